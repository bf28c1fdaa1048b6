// Reading a Triton model repository: every subdirectory of <repository> whose name is a valid model name is
// a model, served from <repository>/<model>/<version>/ (the file-system source's layout) with the settings
// of <repository>/<model>/config.pbtxt, or completed from the model when there is none.
#pragma once

#include <string>
#include <vector>

#include "repository/model_config.h"

namespace serval {

// The names of the model directories under `repository`, sorted. INVALID_ARGUMENT when it cannot be read.
StatusOr<std::vector<std::string>> ListRepositoryModels(const std::string& repository);

// The ModelConfig of <repository>/<name> (triton = true). A config.pbtxt that cannot be read or parsed is
// kept in triton_config_error: the model is listed and every load of it fails with that message.
ModelConfig ReadRepositoryModel(const std::string& repository, const std::string& name);

// Every model of the repository (`only` non-empty: just those; a name there without a directory is
// INVALID_ARGUMENT naming it).
StatusOr<std::vector<ModelConfig>> ReadRepository(const std::string& repository,
                                                  const std::vector<std::string>& only = {});

// True when two reads of a repository model would be served the same way (same config or the same error).
bool SameRepositoryModel(const ModelConfig& a, const ModelConfig& b);

}  // namespace serval

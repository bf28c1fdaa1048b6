#include "server/flag_help.h"

#include <algorithm>
#include <cstring>

#include <gflags/gflags.h>

namespace serval {
namespace {

bool FlagIsSet(const char* name) {
  std::string value;
  if (!gflags::GetCommandLineOption(name, &value)) return false;
  return !value.empty() && value != "false";
}

}  // namespace

InfoRequest ParseFlagsWithInfo(int* argc, char*** argv) {
  // -h is no gflags flag; take it before gflags would call it unknown.
  for (int i = 1; i < *argc; ++i) {
    if (std::strcmp((*argv)[i], "-h") == 0) return InfoRequest::kHelp;
  }
  gflags::ParseCommandLineNonHelpFlags(argc, argv, /*remove_flags=*/true);
  for (const char* help : {"help", "helpshort", "helpfull", "helpon", "helpmatch", "helppackage", "helpxml"}) {
    if (FlagIsSet(help)) return InfoRequest::kHelp;
  }
  if (FlagIsSet("version")) return InfoRequest::kVersion;
  return InfoRequest::kNone;
}

std::string FlagHelp(std::string_view usage, std::span<const FlagGroup> groups) {
  std::string out(usage);
  if (!out.empty() && out.back() != '\n') out += '\n';
  for (const FlagGroup& group : groups) {
    out += '\n';
    out += group.title;
    out += ":\n";
    for (std::string_view name : group.flags) {
      gflags::CommandLineFlagInfo info;
      out += "  --";
      out += name;
      if (!gflags::GetCommandLineFlagInfo(std::string(name).c_str(), &info)) {
        out += " (unknown flag)\n";
        continue;
      }
      out += " (" + info.type + ", default: ";
      out += info.type == "string" && info.default_value.empty() ? "\"\"" : info.default_value;
      out += ")\n      ";
      out += info.description;
      out += '\n';
    }
  }
  return out;
}

std::vector<std::string> UngroupedFlags(std::string_view file_suffix, std::span<const FlagGroup> groups) {
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  std::vector<std::string> missing;
  for (const gflags::CommandLineFlagInfo& info : all) {
    if (!std::string_view(info.filename).ends_with(file_suffix)) continue;
    bool listed = std::any_of(groups.begin(), groups.end(), [&](const FlagGroup& group) {
      return std::find(group.flags.begin(), group.flags.end(), info.name) != group.flags.end();
    });
    if (!listed) missing.push_back(info.name);
  }
  return missing;
}

}  // namespace serval

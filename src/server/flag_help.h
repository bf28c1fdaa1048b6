// FlagHelp: `--help` and `--version` for Serval's programs, in place of gflags' own. gflags' help lists every
// flag linked into the binary (its own, and any library's) with the source file that defines it; a program
// here lists only the flags it names, grouped for its reader, and never a build path.
//
// Use: call ParseFlagsWithInfo() instead of gflags::ParseCommandLineFlags(). Not thread-safe (gflags state);
// call once from main(), before other threads start.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace serval {

// One heading of the help text and the flags under it, in the order shown.
struct FlagGroup {
  std::string_view title;
  std::vector<std::string_view> flags;
};

// What the command line asked for besides running.
enum class InfoRequest { kNone, kHelp, kVersion };

// Parses argv like gflags::ParseCommandLineFlags (removing the flags; unknown flags still exit with gflags'
// message), but leaves gflags' help and version flags unhandled and reports them instead: kHelp for -h,
// --help, --helpshort, --helpfull, --helpon=..., --helpmatch=..., --helppackage, --helpxml; kVersion for
// --version. The caller prints FlagHelp() or its version text and exits 0.
InfoRequest ParseFlagsWithInfo(int* argc, char*** argv);

// The help text: `usage` (one or more lines), then each group as a heading with its flags, each as
// "--name (type, default: value)" and the flag's description on the next line. A name no flag has is
// shown as "(unknown flag)" so that a unit test catches a stale table.
std::string FlagHelp(std::string_view usage, std::span<const FlagGroup> groups);

// The flags defined in source files whose path ends with `file_suffix` that no group lists (empty when the
// table is complete; unit tests assert that).
std::vector<std::string> UngroupedFlags(std::string_view file_suffix, std::span<const FlagGroup> groups);

}  // namespace serval

// Replacing a response file so that a reader sees the old or the new file,
// never a mixture, and the new one survives a crash.
#pragma once

#include <span>
#include <string>
#include <sys/types.h>

namespace gtls {

// Writes `bytes` to a temporary file in the directory of `path`, fsyncs it,
// gives it `mode` and, when `path` exists, that file's owner and group (so what
// httpd's User could read stays readable), renames it over `path` and fsyncs the
// directory. Throws std::runtime_error naming the file and the failed step; then
// `path` is untouched and the temporary file removed.
void replace_file_atomically(const std::string& path, std::span<const unsigned char> bytes, mode_t mode);

}  // namespace gtls

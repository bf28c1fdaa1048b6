// Base64 (RFC 4648 §4, the standard alphabet) for TF Serving's {"b64": "..."} values.
// Decoding is strict: only the standard alphabet, no whitespace, '=' only as final padding (one or two,
// or none when the length needs none), a length that is not 1 mod 4, and zero unused bits in the last
// character — so every accepted string has exactly one meaning.
#pragma once

#include <string>
#include <string_view>

namespace serval {

// Appends the padded encoding of `bytes` to *out.
void AppendBase64(std::string_view bytes, std::string* out);
std::string Base64Encode(std::string_view bytes);
// Decodes `text` into *out (replacing its contents). False, with *out unspecified, on any invalid input.
bool Base64Decode(std::string_view text, std::string* out);

}  // namespace serval

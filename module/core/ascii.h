// ASCII case folding for names (directive values, host names), independent of
// the process locale.
#pragma once

#include <string>
#include <string_view>

namespace gtls {

constexpr char ascii_lower(char ch) noexcept { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; }

// `text` with A-Z turned into a-z; other bytes unchanged. Any thread.
inline std::string ascii_lowercase(std::string_view text) {
    std::string lower(text);
    for (char& ch : lower) ch = ascii_lower(ch);
    return lower;
}

// Equal ignoring ASCII case. Any thread; never throws.
constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

}  // namespace gtls

// libFuzzer target: arbitrary directive arguments through every parser of
// core/directive_values.h and through gtls::compile_priorities.
//
// Input: the first argument, then optionally a NUL byte and a second argument
// (up to the next NUL). httpd hands directive handlers NUL-terminated words, so
// no argument contains a NUL. The second argument is GnuTLSCache's legacy
// two-word form ("dbm /path"). Besides crashes, leaks and UB it stops on results
// that break the parsers' promises (see the checks below).
#include "core/directive_values.h"
#include "core/priorities.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const std::string& what, std::string_view text) {
    std::fprintf(stderr, "directive_values_fuzzer: %s (input '%.*s')\n", what.c_str(), static_cast<int>(text.size()),
                 text.data());
    std::abort();
}

// A Parsed<T> holds a value or says why not, never both, never neither.
template <typename T>
void check_parsed(const gtls::Parsed<T>& parsed, std::string_view text) {
    if (parsed.value.has_value() == !parsed.error.empty()) fail("value and error both or neither set", text);
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

void fuzz_on_off(std::string_view text) {
    auto parsed = gtls::parse_on_off(text);
    check_parsed(parsed, text);
    if (parsed && *parsed.value != iequals(text, "on")) fail("On/Off value disagrees with the text", text);
    if (parsed && !iequals(text, "on") && !iequals(text, "off")) fail("accepted neither On nor Off", text);
}

void fuzz_seconds(std::string_view text, long min, long max) {
    auto parsed = gtls::parse_seconds(text, min, max);
    check_parsed(parsed, text);
    if (parsed && (*parsed.value < min || *parsed.value > max)) fail("seconds outside their range", text);
    if (parsed && std::to_string(*parsed.value) != text && !(text.size() > 1 && text[0] == '0') &&
        text.find_first_not_of("0123456789") == std::string_view::npos) {
        fail("seconds differ from the digits", text);
    }
}

void fuzz_session_cache(std::string_view text, std::string_view legacy_argument) {
    auto parsed = gtls::parse_session_cache(text, legacy_argument);
    check_parsed(parsed, text);
    if (!parsed) return;
    const auto& spec = *parsed.value;
    if (!spec.enabled() && !spec.argument.empty()) fail("'none' with an argument", text);
    if (!std::all_of(spec.provider.begin(), spec.provider.end(), [](unsigned char ch) {
            return std::islower(ch) || std::isdigit(ch) || ch == '_' || ch == '-';
        })) {
        fail("provider name is not a lower-case word", text);
    }
    if (spec.provider == "gdbm") fail("gdbm is not mapped to dbm", text);
}

void fuzz_priorities(const std::string& text) {
    try {
        gtls::OwnedPriority priority = gtls::compile_priorities(text);
        if (priority == nullptr) fail("compile_priorities returned nothing", text);
    } catch (const std::invalid_argument& e) {
        // The admin's error message quotes the string.
        if (std::string_view(e.what()).find(text) == std::string_view::npos) fail("error does not quote the text", text);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view argument = input.substr(0, input.find('\0'));
    std::string_view legacy_argument;
    if (argument.size() < input.size()) {
        legacy_argument = input.substr(argument.size() + 1);
        legacy_argument = legacy_argument.substr(0, legacy_argument.find('\0'));
    }

    fuzz_on_off(argument);
    // The ranges the directives use (GnuTLSCacheTimeout, GnuTLSOCSPCheckInterval)
    // and the widest one, where the range message prints LONG_MIN and LONG_MAX.
    fuzz_seconds(argument, 0, 604800);
    fuzz_seconds(argument, 0, 86400);
    fuzz_seconds(argument, LONG_MIN, LONG_MAX);
    fuzz_session_cache(argument, {});
    fuzz_session_cache(argument, legacy_argument);
    fuzz_priorities(std::string(argument));
    return 0;
}

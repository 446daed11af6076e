// The C boundary: every hook, filter, directive handler and GnuTLS callback runs
// its body through guard(), so no C++ exception ever unwinds into httpd or GnuTLS.
#pragma once

#include "httpd/httpd.h"

#include <exception>
#include <utility>

namespace gtls {

// Logs an exception that reached a boundary; `where` names the boundary.
void log_boundary_exception(server_rec* s, const char* where, const char* what) noexcept;

// Runs body(); if it throws, logs at error level against `s` and returns `on_failure`.
template <typename Result, typename Body>
Result guard(server_rec* s, const char* where, Result on_failure, Body&& body) noexcept {
    try {
        return std::forward<Body>(body)();
    } catch (const std::exception& e) {
        log_boundary_exception(s, where, e.what());
    } catch (...) {
        log_boundary_exception(s, where, "unknown exception");
    }
    return on_failure;
}

}  // namespace gtls

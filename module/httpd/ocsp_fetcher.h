// Fetching the OCSP responses of certificates that have no
// GnuTLSOCSPResponseFile. One fetcher per server, not one per process: a
// singleton mod_watchdog callback, in one worker process and so as httpd's
// User, keeps each response file in GnuTLSOCSPResponseDir fresh with the same
// code as gtls-ocsp-fetch. It only writes files; every worker's StapleSource
// picks a new file up through its usual check, so the handshake path stays
// what it is for configured files.
#pragma once

#include "httpd/httpd.h"

#include <optional>
#include <string>

namespace gtls {

// What the fetcher last did for one response file, as the status page shows
// it (any process: the fetcher runs in one, so it keeps this next to the file).
struct FetchState {
    std::string responder;
    std::string last_contact = "-";  // when the responder was last asked (UTC), "-" never
    std::string next_check = "-";    // when the fetcher looks at the file again
    std::string result = "-";        // fetched, fresh, kept, failed, revoked
    std::string error;               // the last failure's reason, "" when the last contact went well
};

// The state written for `response_file`, or nothing when the fetcher has not
// run for it yet.
std::optional<FetchState> read_fetch_state(const std::string& response_file);

// post_config, before the staples are loaded: asks the responders of the
// certificates whose response file holds no good response (first start, new
// certificate, expired file), so that workers staple from their first
// handshake. Runs as httpd's User in a child process and waits for it at most
// about the socket timeout; what is not fetched then the fetcher asks for in
// the background. Logs problems; never fails the startup over them.
void fetch_missing_responses(server_rec* main_server, apr_pool_t* pconf);

// post_config: creates GnuTLSOCSPResponseDir (owned by httpd's User) and
// registers the fetcher when some certificate's response is fetched. Logs
// problems; never fails the startup over them.
void start_ocsp_fetcher(server_rec* main_server, apr_pool_t* pconf);

}  // namespace gtls

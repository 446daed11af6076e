// Fetching the OCSP responses of certificates that have no
// GnuTLSOCSPResponseFile. One fetcher per server, not one per process: a
// singleton mod_watchdog callback, in one worker process and so as httpd's
// User, keeps each response file in GnuTLSOCSPResponseDir fresh with the same
// code as gtls-ocsp-fetch. It only writes files; every worker's StapleSource
// picks a new file up through its usual check, so the handshake path stays
// what it is for configured files.
#pragma once

#include "httpd/httpd.h"

namespace gtls {

// post_config: creates GnuTLSOCSPResponseDir (owned by httpd's User) and
// registers the fetcher when some certificate's response is fetched. Logs
// problems; never fails the startup over them.
void start_ocsp_fetcher(server_rec* main_server, apr_pool_t* pconf);

}  // namespace gtls

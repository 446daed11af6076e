// One thread per worker process that re-checks the response files of this
// configuration generation, so the handshake path never touches a file.
#pragma once

#include "httpd/httpd.h"

namespace gtls {

// post_config: reads every response file once (logs go to the error log) and
// gives the sources counters in memory shared by all worker processes.
void load_all_staples(server_rec* main_server, apr_pool_t* pconf);

// child_init: starts the refresher thread of this worker process; it stops when
// `pchild` is destroyed (the process exits).
void start_staple_refresher(server_rec* main_server, apr_pool_t* pchild);

}  // namespace gtls

# Sourced by the serving benchmarks (bench-serve.sh, bench-idle.sh): the
# peers they measure luge serve against, started the same way in each.

# Starts nginx serving "Hello, world!" as /hello.txt on 127.0.0.1:8090,
# with its files, logs and pid (WORK/nginx.pid) under WORK.
start_static_nginx() {
    local work="$1"
    # nginx workers run as an unprivileged user: they must be able to read
    # the file (mktemp makes the directory private), or every request is
    # a 403.
    chmod 755 "$work"
    mkdir -p "$work/html" "$work/logs"
    echo "Hello, world!" >"$work/html/hello.txt"
    cat >"$work/nginx.conf" <<CONF
worker_processes auto;
error_log $work/logs/error.log;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  # Keep connections open as luge does (by default nginx closes one after
  # 1000 requests and the client must reconnect).
  keepalive_requests 100000000;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi;
  scgi_temp_path $work/scgi;
  server { listen 127.0.0.1:8090; root $work/html; default_type text/plain; }
}
CONF
    nginx -c "$work/nginx.conf" -p "$work"
}

# Starts $LUGE_BASELINE (another build of `luge`) serving the hello
# example as a Sledge-style route, with the settings the bundled examples
# get, on port 8081; its output goes to LOG. Sets BASE_PID.
start_baseline_luge() {
    local root="$1" work="$2" log="$3"
    echo "[{\"name\": \"base\", \"port\": 8081, \"routes\": [{\"route\": \"/hello\", \"path\": \"$root/examples/hello/hello.wasm\"}]}]" >"$work/base.json"
    "$LUGE_BASELINE" serve "$work/base.json" >"$log" 2>&1 &
    BASE_PID=$!
}

#!/usr/bin/env bash
# The upstream edoburu/pgbouncer image's entrypoint contract, for the local
# image (upstream's script is POSIX sh on Alpine's busybox and reads more
# variables, DATABASE_URL and DATABASE_URLS among them):
#   - AUTH_FILE (default /etc/pgbouncer/userlist.txt) gets `"DB_USER" "secret"`
#     when DB_USER and DB_PASSWORD are set and the user is not there yet: the
#     password as is for AUTH_TYPE scram-sha-256 or plain, its md5 otherwise;
#   - with no /etc/pgbouncer/pgbouncer.ini, one is written: a [databases] line
#     `${DB_NAME:-*} = host=DB_HOST port=${DB_PORT:-5432} auth_user=${DB_USER:-postgres}`,
#     then [pgbouncer] with listen_port ${LISTEN_PORT:-5432}, no Unix socket
#     unless UNIX_SOCKET_DIR, auth_type ${AUTH_TYPE:-md5}, admin_users
#     ${ADMIN_USERS:-postgres}, and every other setting below whose upper-case
#     name is set (POOL_MODE -> pool_mode); it is printed;
#   - then the command is exec'd: PgBouncer is PID 1 and gets the stop signal.
set -euo pipefail
umask 077  # the auth file holds a password

config_dir=/etc/pgbouncer
config=$config_dir/pgbouncer.ini
auth_file=${AUTH_FILE:-$config_dir/userlist.txt}
# Settings written when their upper-case variable is set, in upstream's order.
optional=(auth_hba_file auth_user auth_query auth_dbname pool_mode max_client_conn pool_size
  default_pool_size min_pool_size reserve_pool_size reserve_pool_timeout max_db_connections
  max_user_connections server_round_robin disable_pqexec application_name_add_host timezone
  max_prepared_statements log_connections log_disconnections log_pooler_errors log_stats
  stats_period verbose stats_users logfile server_reset_query server_reset_query_always
  server_check_delay server_check_query server_lifetime server_idle_timeout
  server_connect_timeout server_login_retry client_login_timeout autodb_idle_timeout
  dns_max_ttl dns_nxdomain_ttl client_tls_sslmode client_tls_key_file client_tls_cert_file
  client_tls_ca_file server_tls_sslmode server_tls_ca_file server_tls_key_file
  server_tls_cert_file query_timeout query_wait_timeout client_idle_timeout
  idle_transaction_timeout pkt_buf max_packet_size listen_backlog tcp_keepalive)

add_user() {
  [[ -n ${DB_USER:-} && -n ${DB_PASSWORD:-} ]] || return 0
  touch "$auth_file"
  ! grep -q "^\"$DB_USER\"" "$auth_file" || return 0
  local secret=$DB_PASSWORD
  if [[ ${AUTH_TYPE:-md5} != scram-sha-256 && ${AUTH_TYPE:-md5} != plain ]]; then
    secret="md5$(printf '%s%s' "$DB_PASSWORD" "$DB_USER" | md5sum | cut -d' ' -f1)"
  fi
  printf '"%s" "%s"\n' "$DB_USER" "$secret" >>"$auth_file"
  echo "Wrote authentication credentials for '$DB_USER' to $auth_file"
}

write_config() {
  local key variable
  {
    echo "################## Auto generated ##################"
    echo "[databases]"
    echo "${DB_NAME:-*} = host=${DB_HOST:?You must set DB_HOST} port=${DB_PORT:-5432} auth_user=${DB_USER:-postgres}"
    echo "[pgbouncer]"
    echo "listen_addr = ${LISTEN_ADDR:-0.0.0.0}"
    echo "listen_port = ${LISTEN_PORT:-5432}"
    echo "unix_socket_dir = ${UNIX_SOCKET_DIR:-}"
    echo "user = postgres"
    echo "auth_file = $auth_file"
    echo "auth_type = ${AUTH_TYPE:-md5}"
    echo "admin_users = ${ADMIN_USERS:-postgres}"
    echo "ignore_startup_parameters = ${IGNORE_STARTUP_PARAMETERS:-extra_float_digits}"
    for key in "${optional[@]}"; do
      variable=${key^^}
      [[ -z ${!variable:-} ]] || echo "$key = ${!variable}"
    done
    echo "################## end file ##################"
  } >"$config"
}

touch "$auth_file"
add_user
if [[ ! -f $config ]]; then
  echo "Creating pgbouncer config in $config_dir"
  write_config
  cat "$config"
fi
echo "Starting $*..."
exec "$@"

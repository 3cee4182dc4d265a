/** The `--help` texts of the `clinvk` command and its subcommands. */

export const MAIN_USAGE = `Usage: clinvk <command> [options]

HTTP API server in front of the claude, codex and gemini coding-agent CLIs.

Commands:
  serve          Start the HTTP API server
  version        Print the version
  doctor         Check the configuration, the agent CLIs and their credentials
  config show    Print the effective configuration as YAML (API keys redacted)
  keys new       Create an API key (printed once) and its auth.keys entry
  keys hash      Print the SHA-256 of a key read from stdin

Global options:
  --config <file>   Configuration file (env CLINVK_CONFIG; default $CLINVK_HOME/config.yaml,
                    CLINVK_HOME defaults to ~/.clinvk)
  -h, --help        Show help

Run 'clinvk <command> --help' for the options of a command.
`;

export const SERVE_USAGE = `Usage: clinvk serve [--host <host>] [--port|-p <port>] [--config <file>] [--log-level <level>] [--log-format json|text]
                    [--role all|api|worker]

Start the HTTP API server (native REST, OpenAI- and Anthropic-compatible APIs).

Options:
  --host <host>         Bind address (default 127.0.0.1; env CLINVK_HOST)
  -p, --port <port>     Bind port, 0 = any free port (default 8080; env CLINVK_PORT)
  --config <file>       Configuration file (env CLINVK_CONFIG; default $CLINVK_HOME/config.yaml)
  --log-level <level>   error, warn, info or debug (default info; env CLINVK_LOG_LEVEL)
  --log-format <fmt>    json or text (default: text on a terminal, json otherwise; env CLINVK_LOG_FORMAT)
  --role <role>         Cluster mode: all, api (HTTP, queues runs) or worker (runs the CLIs; serves only
                        /health and /metrics) (default all; env CLINVK_ROLE; see docs/cluster.md)
  -h, --help            Show this help

SIGINT/SIGTERM stop the server gracefully; a second signal skips the drain.
SIGHUP re-reads the API keys (auth.keys and CLINVK_API_KEYS_FILE); an invalid new set keeps the old one.
Exit codes: 0 success, 1 runtime failure (e.g. address in use), 2 usage or configuration error.
`;

export const VERSION_USAGE = `Usage: clinvk version

Print the version of clinvk.
`;

export const CONFIG_USAGE = `Usage: clinvk config show [--config <file>] [--host <host>] [--port|-p <port>] [--log-level <level>]

Print the effective configuration (built-in defaults < file < environment < flags) as YAML.
The output is itself a valid configuration file. API keys are never printed, only their number
(a comment: <redacted: N keys>); child environment variables that look like credentials are left out.
`;

export const DOCTOR_USAGE = `Usage: clinvk doctor [--config <file>] [--json] [--probe]

Check what clinvk needs: the configuration, $CLINVK_HOME, the session store, API keys (gopass when
configured), the port, and for each backend the executable, its version against the range clinvk
was verified with, and whether credentials are present (never their values). Every problem comes
with the next step (install command, variable to set, login command).

Options:
  --config <file>   Configuration file (env CLINVK_CONFIG; default $CLINVK_HOME/config.yaml)
  --json            Print the report as JSON instead of a table
  --probe           Also run a one-line prompt on each usable backend (costs tokens; 60 s limit each)
  -h, --help        Show this help

Exit codes: 0 every enabled backend usable and nothing failed, 1 otherwise, 2 usage error.
`;

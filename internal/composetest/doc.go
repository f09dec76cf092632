// Package composetest holds no code: its test keeps docker-compose.yml and
// the Dockerfile in step with the berth CLI (flag environment variables,
// subcommands) and with workflows' dev server flags. Docker can't run on
// our machines, so this is how the compose deployment stays correct.
package composetest

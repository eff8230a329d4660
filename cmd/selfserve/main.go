// Command selfserve runs the selfserve services: all of them in one process
// (`dev`), or one component per process (`licensing`, `commerce`, `billing`,
// `gateway`), and prints operator tokens (`token`).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/selfserve/selfserve/cmd/selfserve/internal/bench"
)

const usage = `selfserve: self-service commerce (licensing, commerce, billing, gateway)

Usage:
  selfserve dev        start every component in one process, seed demo data, print tokens
  selfserve licensing  run the licensing gRPC service
  selfserve commerce   run the commerce gRPC service
  selfserve billing    run the billing gRPC service
  selfserve gateway    run the JSON gateway
  selfserve token --operator [--data-dir DIR]
                       print an operator bearer token signed with DIR/signing.key
  selfserve backup --out DIR [--data-dir DIR]
                       copy each running service's store into DIR, online
  selfserve compact [--only licensing,commerce,billing] [--data-dir DIR]
                       have each running service rewrite its bbolt file without
                       its free pages; writes wait while it copies
  selfserve check      compare the three stores through the services' APIs and
                       report every disagreement (exit status 1 when any)
  selfserve etcd --name m0 --client-addr 127.0.0.1:2379 --peer-addr 127.0.0.1:2380
                       run an embedded etcd member, for trying --store etcd
                       without installing etcd
  selfserve migrate --to etcd --etcd-endpoints HOSTS [--data-dir DIR]
                       copy the bbolt stores of DIR into an etcd cluster
  selfserve bench      measure a system of four processes against a raw reference
                       chain built from the same libraries; print figures and targets
  selfserve healthcheck --addr HOST:PORT|http://HOST:PORT/healthz
                       exit 0 when the component at the address serves (for images with no shell)
  selfserve --version  print the release, commit and Go version of this binary

Run "selfserve COMMAND -h" for the flags of a command. Every flag also reads
the environment variable SELFSERVE_<FLAG> (dashes as underscores).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "selfserve:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// run dispatches a command line; it returns when the command is done or ctx
// is cancelled and every component has stopped.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(ctx, rest, stdout, stderr)
	case "licensing", "commerce", "billing", "gateway":
		return runComponent(ctx, cmd, rest, stderr)
	case "token":
		return runToken(rest, stdout, stderr)
	case "backup":
		return runBackup(ctx, rest, stdout, stderr)
	case "check":
		return runCheck(ctx, rest, stdout, stderr)
	case "compact":
		return runCompact(ctx, rest, stdout, stderr)
	case "bench":
		return benchCommand(bench.Run(ctx, rest, stdout, stderr))
	case "etcd":
		return runEtcd(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "bench-raw": // the bench's reference, started by the bench itself
		return benchCommand(bench.RunRaw(ctx, rest, stdout, stderr))
	case "healthcheck":
		return runHealthcheck(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "selfserve: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

// benchCommand answers a bench command's error as every other command's:
// a refused command line is errUsage.
func benchCommand(err error) error {
	if errors.Is(err, bench.ErrUsage) {
		return errUsage
	}
	return err
}

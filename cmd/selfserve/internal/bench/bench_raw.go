package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/selfserve/selfserve/cmd/selfserve/internal/rawchain"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/telemetry"
)

// RunRaw is the hidden `selfserve bench-raw` the bench starts as a child
// process, so that the reference's CPU and memory are measured like a
// component's. It prints its addresses as one JSON line on stdout, then serves
// until ctx is done.
func RunRaw(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("bench-raw", stderr)
	dir := f.String("dir", "", "directory of the reference's bbolt file (required)")
	signingKey := f.String("signing-key", "", "key that signs the tokens the interceptor chain verifies (required)")
	logLevel := f.String("log-level", "error", "log level of the interceptor chain")
	if err := parse(f, args); err != nil {
		return err
	}
	if *dir == "" || *signingKey == "" {
		return fmt.Errorf("bench-raw: --dir and --signing-key are required")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(telemetry.LogHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
	key, err := auth.LoadKey(*signingKey)
	if err != nil {
		return err
	}
	signer, err := auth.NewSigner(key)
	if err != nil {
		return err
	}
	srv, err := rawchain.Start(rawchain.Config{Dir: *dir, Signer: signer, Logger: log})
	if err != nil {
		return err
	}
	line, _ := json.Marshal(srv.Addrs)
	fmt.Fprintf(stdout, "%s\n", line)
	select {
	case <-ctx.Done():
	case err = <-srv.Failed():
	}
	if cerr := srv.Close(); err == nil {
		err = cerr
	}
	return err
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/selfserve/selfserve/cmd/selfserve/internal/rawchain"
	"github.com/selfserve/selfserve/services/kit/auth"
)

// runBenchRaw is the hidden `selfserve bench-raw` the bench starts as a child
// process, so that the reference's CPU and memory are measured like a
// component's. It prints its addresses as one JSON line on stdout, then serves
// until ctx is done.
func runBenchRaw(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("bench-raw", stderr)
	dir := f.String("dir", "", "directory of the reference's bbolt file (required)")
	f.StringVar(&f.cfg.SigningKey, "signing-key", "", "key that signs the tokens the interceptor chain verifies (required)")
	f.StringVar(&f.cfg.LogLevel, "log-level", "error", "log level of the interceptor chain")
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	if *dir == "" || cfg.SigningKey == "" {
		return fmt.Errorf("bench-raw: --dir and --signing-key are required")
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	key, err := auth.LoadKey(cfg.SigningKey)
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

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/metadata"

	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/backuprpc"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// backupTokenTTL bounds the operator token of one backup; it is checked when
// each stream starts, not while it runs.
const backupTokenTTL = 15 * time.Minute

// operatorToken is an operator token signed with the configured key, which
// must exist: a new one would sign a token no service accepts.
func operatorToken(cfg *config, ttl time.Duration) (string, error) {
	key, err := auth.LoadKey(cfg.SigningKey)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	signer, err := auth.NewSigner(key)
	if err != nil {
		return "", err
	}
	return signer.OperatorToken(ttl)
}

// runBackup copies the store of each running service into --out, each a
// consistent snapshot taken while the service goes on serving. The signing
// key is a secret and is not copied: restore the copies next to the key they
// were made with.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("backup", stderr)
	var out string
	f.StringVar(&out, "out", "", "directory to write licensing.db, commerce.db and billing.db into (required)")
	f.dataDir()
	f.addrs(false, true, true, true)
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	if out == "" {
		fmt.Fprintln(stderr, "selfserve backup: --out is required")
		return errUsage
	}
	tok, err := operatorToken(cfg, backupTokenTTL)
	if err != nil {
		return err
	}

	stores := []struct{ name, addr string }{
		{"licensing", cfg.LicensingAddr},
		{"commerce", cfg.CommerceAddr},
		{"billing", cfg.BillingAddr},
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	// Never replace a store: --out might be a data directory in use.
	for _, s := range stores {
		if _, err := os.Lstat(filepath.Join(out, s.name+".db")); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("backup: %s already holds %s.db; choose an empty directory", out, s.name)
		}
	}

	// The three copies are taken at once, so that they stand as close in
	// time as the services allow.
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	sizes := make([]int64, len(stores))
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range stores {
		g.Go(func() error {
			conn, err := serve.Dial(s.addr)
			if err != nil {
				return fmt.Errorf("%s at %s: %w", s.name, s.addr, err)
			}
			defer conn.Close()
			path, size, err := backuprpc.Fetch(gctx, conn, out)
			if err != nil {
				return fmt.Errorf("%s at %s: %w", s.name, s.addr, err)
			}
			if want := filepath.Join(out, s.name+".db"); path != want {
				os.Remove(path)
				return fmt.Errorf("%s at %s: the service there sent %s", s.name, s.addr, filepath.Base(path))
			}
			sizes[i] = size
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for i, s := range stores {
		fmt.Fprintf(stdout, "%s\t%d bytes\n", filepath.Join(out, s.name+".db"), sizes[i])
	}
	return nil
}

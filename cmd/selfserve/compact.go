package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// runCompact has each running service rewrite its bbolt file without the
// free pages bbolt never gives back, one service after another so that only
// one holds its writes at a time.
func runCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("compact", stderr)
	only := f.String("only", "licensing,commerce,billing", "the services to compact, comma-separated")
	f.dataDir()
	f.addrs(false, true, true, true)
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	addrs := map[string]string{"licensing": cfg.LicensingAddr, "commerce": cfg.CommerceAddr, "billing": cfg.BillingAddr}
	var names []string
	for _, n := range strings.Split(*only, ",") {
		n = strings.TrimSpace(n)
		if _, ok := addrs[n]; !ok {
			fmt.Fprintf(stderr, "selfserve compact: --only: %q is not licensing, commerce or billing\n", n)
			return errUsage
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	tok, err := operatorToken(cfg, backupTokenTTL)
	if err != nil {
		return err
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	for _, n := range names {
		res, err := compactOne(ctx, addrs[n])
		if err != nil {
			return fmt.Errorf("compact: %s at %s: %w", n, addrs[n], err)
		}
		fmt.Fprintf(stdout, "%s\t%d → %d bytes\twrites paused %s\n", res.GetFileName(), res.GetSizeBefore(), res.GetSizeAfter(),
			res.GetWritesPaused().AsDuration().Round(time.Millisecond))
	}
	return nil
}

// compactOne asks the service at addr (one replica: a bbolt store has one)
// to compact its store.
func compactOne(ctx context.Context, addr string) (*operatorv1.CompactResponse, error) {
	conn, err := serve.Dial(addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return operatorv1.NewBackupServiceClient(conn).Compact(ctx, &operatorv1.CompactRequest{})
}

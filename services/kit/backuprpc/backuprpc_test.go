package backuprpc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/backuprpc"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/serve"
)

const domain = "licensing.selfserve"

var (
	seeded  = []byte("seeded")
	written = []byte("written")
)

type harness struct {
	db     kv.DB
	conn   *grpc.ClientConn
	signer *auth.Signer
}

// start serves BackupService (or srv, if given) for a store on t.TempDir()
// through the real interceptors, over an in-memory listener.
func start(t *testing.T, srv operatorv1.BackupServiceServer) *harness {
	t.Helper()
	db, err := kv.Open(filepath.Join(t.TempDir(), "licensing.db"), seeded, written)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if srv == nil {
		srv = &backuprpc.Server{Name: "licensing", DB: db}
	}
	s := serve.NewServer("licensing", domain, slog.New(slog.DiscardHandler), signer)
	operatorv1.RegisterBackupServiceServer(s, srv)
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, lis, time.Second); close(done) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		<-done
		db.Close()
	})
	return &harness{db: db, conn: conn, signer: signer}
}

// as returns a context carrying a token with roles.
func (h *harness) as(t *testing.T, roles ...string) context.Context {
	t.Helper()
	now := time.Now()
	tok, err := h.signer.Sign(auth.Claims{Subject: "someone", Org: "contoso", Roles: roles, IssuedAt: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// seed writes n keys of 1 KiB, enough for the copy to span several chunks.
func seed(t *testing.T, db kv.DB, n int) {
	t.Helper()
	err := db.Update(func(tx kv.Tx) error {
		b := tx.Bucket(seeded)
		for i := range n {
			if err := b.Put(kv.Uint64(uint64(i)), bytes.Repeat([]byte{byte(i)}, 1024)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestBackupUnderLoad(t *testing.T) {
	h := start(t, nil)
	seed(t, h.db, 3000)

	// Writers go on while the backup runs. Each writes its own sequence of
	// keys, two to a transaction, and publishes how many it has committed.
	const writers = 4
	var committed [writers]atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := uint64(0); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				err := h.db.Update(func(tx kv.Tx) error {
					b := tx.Bucket(written)
					if err := b.Put(writerKey(w, n, 'a'), bytes.Repeat([]byte{1}, 512)); err != nil {
						return err
					}
					return b.Put(writerKey(w, n, 'b'), bytes.Repeat([]byte{2}, 512))
				})
				if err != nil {
					t.Error(err)
					return
				}
				committed[w].Store(n + 1)
			}
		})
	}
	// Let the writers get going, then note what was committed before the
	// backup began.
	for committed[writers-1].Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	var before [writers]uint64
	for w := range writers {
		before[w] = committed[w].Load()
	}
	dir := t.TempDir()
	path, size, err := backuprpc.Fetch(h.as(t, auth.Operator), h.conn, dir)
	var during [writers]uint64
	for w := range writers {
		during[w] = committed[w].Load() - before[w]
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copy of %d bytes; writes committed while it ran: %v", size, during)

	if path != filepath.Join(dir, "licensing.db") {
		t.Errorf("path %q", path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy on disk: %v %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	cp, err := kv.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	err = cp.View(func(tx kv.Tx) error {
		if n := kv.Count(tx.Bucket(seeded)); n != 3000 {
			t.Errorf("copy holds %d seeded keys, want 3000", n)
		}
		b := tx.Bucket(written)
		for w := range writers {
			// A consistent copy holds each writer's sequence up to some
			// point, never a gap, never half a transaction.
			n := uint64(0)
			for b.Get(writerKey(w, n, 'a')) != nil {
				if b.Get(writerKey(w, n, 'b')) == nil {
					t.Errorf("writer %d: transaction %d half in the copy", w, n)
				}
				n++
			}
			if n < before[w] {
				t.Errorf("writer %d: copy holds %d transactions, %d were committed before the backup", w, n, before[w])
			}
			c := b.Cursor()
			prefix := writerKey(w, 0, 0)[:1]
			count := uint64(0)
			for k, _ := c.Seek(prefix); k != nil && k[0] == prefix[0]; k, _ = c.Next() {
				count++
			}
			if count != 2*n {
				t.Errorf("writer %d: %d keys in the copy, want %d (a gap in its sequence)", w, count, 2*n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writerKey(w int, n uint64, half byte) []byte {
	k := []byte{byte('0' + w)}
	k = binary.BigEndian.AppendUint64(k, n)
	return append(k, half)
}

func TestBackupChunks(t *testing.T) {
	h := start(t, nil)
	seed(t, h.db, 1500)
	stream, err := operatorv1.NewBackupServiceClient(h.conn).Backup(h.as(t, auth.Operator), &operatorv1.BackupRequest{Name: "backup"})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []*operatorv1.BackupChunk
	var total int64
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
		total += int64(len(c.GetData()))
	}
	if len(chunks) < 3 {
		t.Fatalf("%d chunks for a store of more than 1.5 MB", len(chunks))
	}
	if chunks[0].GetFileName() != "licensing.db" || chunks[0].GetTotalSize() != total {
		t.Errorf("first chunk: name %q size %d, want licensing.db %d", chunks[0].GetFileName(), chunks[0].GetTotalSize(), total)
	}
	for i, c := range chunks {
		if len(c.GetData()) > backuprpc.ChunkSize {
			t.Errorf("chunk %d carries %d bytes", i, len(c.GetData()))
		}
		if i > 0 && (c.GetFileName() != "" || c.GetTotalSize() != 0) {
			t.Errorf("chunk %d repeats the name or size", i)
		}
	}
}

func TestBackupRefusals(t *testing.T) {
	h := start(t, nil)
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		code   codes.Code
		reason errs.Reason
	}{
		{"no token", context.Background(), codes.Unauthenticated, errs.TokenMissing},
		{"global admin", h.as(t, auth.GlobalAdmin), codes.PermissionDenied, errs.PermissionDenied},
		{"service", h.as(t, auth.Service), codes.PermissionDenied, errs.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, _, err := backuprpc.Fetch(tc.ctx, h.conn, dir)
			wantStatus(t, err, tc.code, tc.reason)
			if files, _ := os.ReadDir(dir); len(files) != 0 {
				t.Errorf("a refused backup left %v", files)
			}
		})
	}
	stream, err := operatorv1.NewBackupServiceClient(h.conn).Backup(h.as(t, auth.Operator), &operatorv1.BackupRequest{Name: "other"})
	if err == nil {
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.NotFound, errs.ResourceNotFound)
}

func wantStatus(t *testing.T, err error, code codes.Code, reason errs.Reason) {
	t.Helper()
	s, ok := status.FromError(err)
	if !ok || s.Code() != code {
		t.Fatalf("got %v, want %v", err, code)
	}
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.GetReason() != reason.Name || info.GetDomain() != domain {
				t.Fatalf("ErrorInfo %v, want %s in %s", info, reason.Name, domain)
			}
			return
		}
	}
	t.Fatalf("%v has no ErrorInfo", err)
}

// liar is a BackupService that sends what a test tells it to.
type liar struct {
	operatorv1.UnimplementedBackupServiceServer
	chunks []*operatorv1.BackupChunk
}

func (l *liar) Backup(_ *operatorv1.BackupRequest, stream grpc.ServerStreamingServer[operatorv1.BackupChunk]) error {
	for _, c := range l.chunks {
		if err := stream.Send(c); err != nil {
			return err
		}
	}
	return nil
}

func TestFetchRefusesABadCopy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []*operatorv1.BackupChunk
	}{
		{"outside the directory", []*operatorv1.BackupChunk{{FileName: "../licensing.db", TotalSize: 4, Data: []byte("abcd")}}},
		{"hidden name", []*operatorv1.BackupChunk{{FileName: ".db", TotalSize: 4, Data: []byte("abcd")}}},
		{"not a .db", []*operatorv1.BackupChunk{{FileName: "signing.key", TotalSize: 4, Data: []byte("abcd")}}},
		{"no size", []*operatorv1.BackupChunk{{FileName: "licensing.db", Data: []byte("abcd")}}},
		{"short", []*operatorv1.BackupChunk{{FileName: "licensing.db", TotalSize: 8, Data: []byte("abcd")}}},
		{"long", []*operatorv1.BackupChunk{{FileName: "licensing.db", TotalSize: 4, Data: []byte("abcd")}, {Data: []byte("e")}}},
		{"not bbolt", []*operatorv1.BackupChunk{{FileName: "licensing.db", TotalSize: 8192, Data: make([]byte, 8192)}}},
		{"nothing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, &liar{chunks: tc.chunks})
			dir := t.TempDir()
			path, _, err := backuprpc.Fetch(h.as(t, auth.Operator), h.conn, dir)
			if err == nil {
				t.Fatalf("Fetch accepted it as %s", path)
			}
			if files, _ := os.ReadDir(dir); len(files) != 0 {
				t.Errorf("a refused copy left %v", files)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "licensing.db")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file was written outside the directory: %v", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	h := start(t, nil)
	seed(t, h.db, 10)
	dir := t.TempDir()
	path, _, err := backuprpc.Fetch(h.as(t, auth.Operator), h.conn, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := backuprpc.Verify(path); err != nil {
		t.Fatalf("Verify of a good copy: %v", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(raw) / 2, len(raw) - 100, 0} {
		bad := filepath.Join(dir, "bad.db")
		if err := os.WriteFile(bad, raw[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := backuprpc.Verify(bad); err == nil {
			t.Errorf("Verify accepted %d of %d bytes", n, len(raw))
		}
	}
}

// notCompactable is a store without a file of its own to compact, as etcd's.
type notCompactable struct{ kv.DB }

func TestCompactRPC(t *testing.T) {
	h := start(t, nil)
	seed(t, h.db, 2000)
	if err := h.db.Update(func(tx kv.Tx) error {
		for i := range 2000 {
			if i%10 != 0 {
				if err := tx.Bucket(seeded).Delete(kv.Uint64(uint64(i))); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	client := operatorv1.NewBackupServiceClient(h.conn)
	_, err := client.Compact(h.as(t, auth.GlobalAdmin), &operatorv1.CompactRequest{})
	wantStatus(t, err, codes.PermissionDenied, errs.PermissionDenied)
	_, err = client.Compact(h.as(t, auth.Operator), &operatorv1.CompactRequest{Name: "other"})
	wantStatus(t, err, codes.NotFound, errs.ResourceNotFound)
	res, err := client.Compact(h.as(t, auth.Operator), &operatorv1.CompactRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetFileName() != "licensing.db" || res.GetSizeAfter() >= res.GetSizeBefore() || res.GetWritesPaused().AsDuration() <= 0 {
		t.Fatalf("compact answered %v", res)
	}
	if err := h.db.View(func(tx kv.Tx) error {
		if n := kv.Count(tx.Bucket(seeded)); n != 200 {
			t.Errorf("%d keys after the compaction, want 200", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	etcdLike := start(t, &backuprpc.Server{Name: "licensing", DB: notCompactable{h.db}})
	_, err = operatorv1.NewBackupServiceClient(etcdLike.conn).Compact(etcdLike.as(t, auth.Operator), &operatorv1.CompactRequest{})
	wantStatus(t, err, codes.FailedPrecondition, errs.FailedPrecondition)
}

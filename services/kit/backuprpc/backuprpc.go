// Package backuprpc serves selfserve.operator.v1.BackupService for one
// service's store, and fetches such a copy into a directory: an online
// backup, taken while the service goes on serving.
package backuprpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// ChunkSize is the most bytes one BackupChunk carries.
const ChunkSize = 256 << 10

// Server implements BackupService for one store.
type Server struct {
	operatorv1.UnimplementedBackupServiceServer
	// Name names the copy: Name + ".db".
	Name string
	DB   kv.DB
}

// Backup streams the store as of one read transaction, as a bbolt file.
// Writers go on meanwhile; the copy holds every transaction committed before
// it began and none after. On bbolt it is the file itself (while it runs
// bbolt cannot remap the file, so a write that must grow the file waits for
// the copy to finish); on etcd it is the service's key prefix at one
// revision of the cluster, written into a bbolt file of the same buckets.
func (s *Server) Backup(req *operatorv1.BackupRequest, stream grpc.ServerStreamingServer[operatorv1.BackupChunk]) error {
	if !auth.FromContext(stream.Context()).IsOperator() {
		return errs.Denied("only an operator may back up a store")
	}
	if req.GetName() != "" && req.GetName() != "backup" {
		return errs.NotFound(req.GetName())
	}
	b, ok := s.DB.(kv.Backup)
	if !ok {
		return errs.New(errs.NotImplemented, "the %s store cannot be backed up", s.DB.Backend())
	}
	w := &chunkWriter{
		send: stream.Send,
		buf:  make([]byte, 0, ChunkSize),
		next: &operatorv1.BackupChunk{FileName: s.Name + ".db"},
	}
	if err := b.WriteBackup(w); err != nil {
		return err
	}
	return w.flush()
}

// chunkWriter cuts the copy into chunks of ChunkSize; the first chunk
// carries the file's name and size.
type chunkWriter struct {
	send func(*operatorv1.BackupChunk) error
	buf  []byte
	next *operatorv1.BackupChunk
}

// Size implements kv.BackupWriter.
func (w *chunkWriter) Size(n int64) {
	if w.next != nil {
		w.next.TotalSize = n
	}
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), ChunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == ChunkSize {
			if err := w.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush sends what is buffered; the first chunk goes even when empty, so that
// the client always learns the name and size.
func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 && w.next == nil {
		return nil
	}
	c := w.next
	if c == nil {
		c = &operatorv1.BackupChunk{}
	}
	w.next = nil
	c.Data = w.buf
	// A sent message may still be read (by stats handlers): never reuse its buffer.
	w.buf = make([]byte, 0, ChunkSize)
	return w.send(c)
}

// Fetch calls Backup on conn (ctx carries the operator's token) and writes
// the copy into dir under the name the service gives it. The file appears
// only whole: it is written to a temporary file, synced, checked for size and
// as a bbolt database, then renamed into place. It returns the path and size.
func Fetch(ctx context.Context, conn *grpc.ClientConn, dir string) (path string, size int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := operatorv1.NewBackupServiceClient(conn).Backup(ctx, &operatorv1.BackupRequest{})
	if err != nil {
		return "", 0, err
	}
	first, err := stream.Recv()
	if err != nil {
		return "", 0, err
	}
	name := first.GetFileName()
	if !validName(name) {
		return "", 0, fmt.Errorf("backup: the service named its copy %q", name)
	}
	total := first.GetTotalSize()
	if total <= 0 {
		return "", 0, fmt.Errorf("backup %s: the service gave a size of %d", name, total)
	}

	tmp, err := os.CreateTemp(dir, "."+name+"-*.tmp")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	for c := first; ; {
		if size+int64(len(c.GetData())) > total {
			return "", 0, fmt.Errorf("backup %s: more than the %d bytes announced", name, total)
		}
		if _, err := tmp.Write(c.GetData()); err != nil {
			return "", 0, err
		}
		size += int64(len(c.GetData()))
		c, err = stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, err
		}
	}
	if size != total {
		return "", 0, fmt.Errorf("backup %s: got %d bytes of %d", name, size, total)
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, err
	}
	if err := tmp.Close(); err != nil {
		return "", 0, err
	}
	if err := Verify(tmp.Name()); err != nil {
		return "", 0, fmt.Errorf("backup %s: %w", name, err)
	}
	path = filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", 0, err
	}
	// The rename lasts only once the directory is synced too.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return path, size, nil
}

// validName accepts a plain file name ending in .db: a service never names a
// file outside the backup directory.
func validName(name string) bool {
	return strings.HasSuffix(name, ".db") && len(name) > len(".db") &&
		name == filepath.Base(name) && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".")
}

// Verify opens a bbolt file read-only and checks every page of it.
func Verify(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	// A bbolt file is whole pages, and pages are at least 1 KiB.
	if fi.Size() == 0 || fi.Size()%1024 != 0 {
		return fmt.Errorf("%s: %d bytes is not a bbolt file", path, fi.Size())
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		// Checked before any page is read: a page past the end of the file
		// is a fault of the memory map, not an error.
		if tx.Size() > fi.Size() {
			return fmt.Errorf("%s: truncated, %d bytes of %d", path, fi.Size(), tx.Size())
		}
		var problems []error
		for err := range tx.Check() {
			problems = append(problems, err)
		}
		return errors.Join(problems...)
	})
}

// Compacter is a store that can rewrite its file without its free pages
// (kv.Bolt).
type Compacter interface {
	Compact() (kv.Compaction, error)
}

// Compact rewrites the store's file without its free pages: reads go on,
// writes wait while it copies (kv.Bolt.Compact).
func (s *Server) Compact(ctx context.Context, req *operatorv1.CompactRequest) (*operatorv1.CompactResponse, error) {
	if !auth.FromContext(ctx).IsOperator() {
		return nil, errs.Denied("only an operator may compact a store")
	}
	if req.GetName() != "" && req.GetName() != "store" {
		return nil, errs.NotFound(req.GetName())
	}
	c, ok := s.DB.(Compacter)
	if !ok {
		return nil, errs.New(errs.FailedPrecondition, "the %s store is not a bbolt file: etcd compacts its own history, and `etcdctl defrag` gives its space back", s.DB.Backend())
	}
	res, err := c.Compact()
	if err != nil {
		return nil, err
	}
	return &operatorv1.CompactResponse{FileName: s.Name + ".db", SizeBefore: res.Before, SizeAfter: res.After, WritesPaused: durationpb.New(res.Paused)}, nil
}

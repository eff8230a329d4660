package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/selfserve/selfserve/services/kit/kv"
)

var box = []byte("outbox")

type receiver struct {
	mu    sync.Mutex
	got   []string
	fails int
}

func (r *receiver) deliver(_ context.Context, batch []Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fails > 0 {
		r.fails--
		return errors.New("receiver down")
	}
	for _, m := range batch {
		r.got = append(r.got, string(m.Value))
	}
	return nil
}

func (r *receiver) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func write(t *testing.T, db kv.DB, values ...string) {
	t.Helper()
	err := db.Update(func(tx kv.Tx) error {
		for _, v := range values {
			if err := Add(tx, box, []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeliversInOrderAndSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	db, err := kv.Open(path, box)
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, "a", "b", "c")
	// A receiver that is down keeps everything pending.
	r := &receiver{fails: 1}
	o := New(db, box, r.deliver, nil)
	o.BatchSize = 2
	if err := o.Flush(context.Background()); err == nil {
		t.Fatal("failed delivery reported as done")
	}
	if n, _ := o.Pending(); n != 3 {
		t.Fatalf("pending %d after a failure", n)
	}
	// A restart finds the messages where they were.
	db.Close()
	db, err = kv.Open(path, box)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write(t, db, "d")
	o = New(db, box, r.deliver, nil)
	o.BatchSize = 2
	if err := o.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(r.seen()); got != "[a b c d]" {
		t.Fatalf("delivered %s", got)
	}
	if n, _ := o.Pending(); n != 0 {
		t.Fatalf("pending %d after delivery", n)
	}
}

func TestRunRetriesWithBackoff(t *testing.T) {
	db, err := kv.Open(filepath.Join(t.TempDir(), "o.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := &receiver{fails: 3}
	o := New(db, box, r.deliver, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	write(t, db, "x")
	o.Notify()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.seen()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got := fmt.Sprint(r.seen()); got != "[x]" {
		t.Fatalf("after retries delivered %s", got)
	}
}

func TestTolerantDropsOnlyWhatIsRefused(t *testing.T) {
	var got []string
	send := func(_ context.Context, batch []Message) error {
		for _, m := range batch {
			if string(m.Value) == "bad" {
				return status.Error(codes.InvalidArgument, "bad event")
			}
		}
		for _, m := range batch {
			got = append(got, string(m.Value))
		}
		return nil
	}
	d := Tolerant(send, slog.New(slog.DiscardHandler))
	err := d(context.Background(), []Message{{Value: []byte("a")}, {Value: []byte("bad")}, {Value: []byte("c")}})
	if err != nil || fmt.Sprint(got) != "[a c]" {
		t.Fatalf("delivered %v, %v", got, err)
	}
	unavailable := Tolerant(func(context.Context, []Message) error { return status.Error(codes.Unavailable, "down") }, slog.New(slog.DiscardHandler))
	if err := unavailable(context.Background(), []Message{{Value: []byte("a")}}); status.Code(err) != codes.Unavailable {
		t.Fatalf("a receiver that is down must keep the batch: %v", err)
	}
}

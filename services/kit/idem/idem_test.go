package idem

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
)

func TestReplayAndReuse(t *testing.T) {
	db, err := kv.Open(filepath.Join(t.TempDir(), "i.db"), Bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	req := &licensingv1.CreateUserRequest{Parent: "organizations/a", UserId: "bob", RequestId: "r1"}
	key := NewKey("CreateUser", "a/alice", "r1")
	first := &licensingv1.User{Name: "organizations/a/users/bob"}
	err = db.Update(func(tx kv.Tx) error { return Save(tx, key, time.Now(), req, first) })
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx kv.Tx) error {
		var got licensingv1.User
		ok, err := Lookup(tx, key, req, &got)
		if !ok || err != nil || !proto.Equal(&got, first) {
			t.Fatalf("replay: %v %v %v", ok, err, &got)
		}
		other := proto.Clone(req).(*licensingv1.CreateUserRequest)
		other.UserId = "carol"
		if _, err := Lookup(tx, key, other, &got); errs.ReasonOf(err) != "REQUEST_ID_REUSED" {
			t.Fatalf("reuse: %v", err)
		}
		if ok, _ := Lookup(tx, NewKey("CreateUser", "a/mallory", "r1"), req, &got); ok {
			t.Fatal("another caller saw the response")
		}
		return nil
	})
	// The request id itself is not part of the fingerprint.
	same := proto.Clone(req).(*licensingv1.CreateUserRequest)
	same.RequestId = ""
	if string(Fingerprint(same)) != string(Fingerprint(req)) {
		t.Fatal("fingerprint depends on request_id")
	}
}

func TestRequestID(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(Header, "hdr-1"))
	if id, _ := RequestID(ctx, ""); id != "hdr-1" {
		t.Fatal("header not used")
	}
	if id, _ := RequestID(ctx, "body-1"); id != "body-1" {
		t.Fatal("body must win")
	}
	for _, bad := range []string{"has space", "é", string(make([]byte, 129))} {
		if _, err := RequestID(context.Background(), bad); errs.ReasonOf(err) != "INVALID_REQUEST_ID" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A replay marks its answer in the response header; a first call does not.
func TestUpdateMarksReplays(t *testing.T) {
	db, err := kv.Open(filepath.Join(t.TempDir(), "i.db"), Bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := NewKey("CreateUser", "a/alice", "r1")
	req := &licensingv1.CreateUserRequest{Parent: "organizations/a", UserId: "bob", RequestId: "r1"}
	for i, want := range []string{"", "true"} {
		stream := &headerStream{}
		ctx := grpc.NewContextWithServerTransportStream(context.Background(), stream)
		replayed, err := Update(ctx, db, key, time.Now(), req, &licensingv1.User{}, func(kv.Tx) error { return nil })
		if err != nil || replayed != (i == 1) {
			t.Fatalf("call %d: replayed %v, %v", i, replayed, err)
		}
		if got := strings.Join(stream.md.Get(ReplayedHeader), ","); got != want {
			t.Errorf("call %d: %s = %q, want %q", i, ReplayedHeader, got, want)
		}
	}
}

type headerStream struct{ md metadata.MD }

func (s *headerStream) Method() string { return "/test/Update" }
func (s *headerStream) SetHeader(md metadata.MD) error {
	s.md = metadata.Join(s.md, md)
	return nil
}
func (s *headerStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }
func (s *headerStream) SetTrailer(metadata.MD) error    { return nil }

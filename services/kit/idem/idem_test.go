package idem

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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

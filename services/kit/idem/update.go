package idem

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/selfserve/selfserve/services/kit/kv"
)

// Update runs fn in one bbolt write transaction together with the request
// record: a faithful replay of key skips fn and fills resp with the stored
// response; otherwise fn makes the change and fills resp, which is stored with
// it. It reports whether the call was a replay.
//
// Concurrent calls share a commit (kv.Commit, a group commit without a
// timer): fn may run more than once, always in a fresh transaction, so it
// must read what it needs from tx and leave nothing behind but resp.
func Update(ctx context.Context, db kv.DB, key Key, now time.Time, req, resp proto.Message, fn func(tx kv.Tx) error) (replayed bool, err error) {
	return UpdateFingerprint(ctx, db, key, now, Fingerprint(req), resp, fn)
}

// UpdateFingerprint is Update for requests that must not be hashed as they
// are, such as those carrying a card number: the caller gives a keyed
// fingerprint (see KeyedFingerprint) of sha256.Size bytes.
func UpdateFingerprint(ctx context.Context, db kv.DB, key Key, now time.Time, fingerprint []byte, resp proto.Message, fn func(tx kv.Tx) error) (replayed bool, err error) {
	err = kv.Commit(db, func(tx kv.Tx) error {
		proto.Reset(resp) // a retried run starts over
		found, err := LookupFingerprint(tx, key, fingerprint, resp)
		if err != nil || found {
			replayed = found
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		return SaveFingerprint(tx, key, now, fingerprint, resp)
	})
	if replayed && err == nil {
		MarkReplayed(ctx)
	}
	return replayed, err
}

// ReplayedHeader is the response metadata key that marks an answer as the
// stored answer of an earlier call with the same request id; the JSON edge
// answers it as the Idempotent-Replayed header.
const ReplayedHeader = "idempotent-replayed"

// MarkReplayed marks the answer of the call being served in ctx as a replay.
// Outside a gRPC call it does nothing.
func MarkReplayed(ctx context.Context) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(ReplayedHeader, "true"))
}

// KeyedFingerprint is an HMAC-SHA256 fingerprint of a request without its
// request_id: stored request records then hold nothing from which a secret
// field (a card number, a security code) could be guessed by hashing
// candidates, unless the key is known too.
func KeyedFingerprint(secret []byte, req proto.Message) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(canonical(req))
	return h.Sum(nil)
}

package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/commerce/webhooks"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/webhook"
)

const secret = "whsec_test-secret"

// receiver records what an endpoint was sent and answers with fail's
// status for the events it names (200 otherwise).
type receiver struct {
	t    *testing.T
	now  func() time.Time
	mu   sync.Mutex
	got  []string // event names, in arrival order
	fail map[string]int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := webhook.Verify(secret, req.Header.Get(webhook.SignatureHeader), body, r.now(), webhook.SignatureTolerance); err != nil {
		r.t.Errorf("signature: %v", err)
	}
	var e struct{ Name, Type, Resource, Description string }
	if err := json.Unmarshal(body, &e); err != nil {
		r.t.Errorf("body %s: %v", body, err)
	}
	if e.Name != req.Header.Get(webhook.EventHeader) || e.Type == "" {
		r.t.Errorf("event %+v under %s %q", e, webhook.EventHeader, req.Header.Get(webhook.EventHeader))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e.Name)
	if code := r.fail[e.Name]; code != 0 {
		w.WriteHeader(code)
	}
}

func (r *receiver) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

type harness struct {
	st     *store.Store
	sender *webhooks.Sender
	recv   *receiver
	at     time.Time
	mu     sync.Mutex
}

func (h *harness) now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.at
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = h.at.Add(d)
}

func newHarness(t *testing.T, types ...commercev1.Event_Type) *harness {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "commerce.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{st: st, at: time.Now()}
	h.recv = &receiver{t: t, now: h.now, fail: map[string]int{}}
	srv := httptest.NewServer(h.recv)
	t.Cleanup(srv.Close)
	policy := webhook.Policy{AllowPrivate: true}
	h.sender = &webhooks.Sender{Store: st, Client: policy.Client(), Now: h.now}
	err = st.DB.Update(func(tx kv.Tx) error {
		return store.CreateWebhook(tx, "contoso", "wh-1", &commercev1.Webhook{
			Name: store.WebhookName("contoso", "wh-1"), Url: srv.URL, Secret: secret, EventTypes: types,
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var seq int

// record records events of contoso about resource, each of type typ.
func (h *harness) record(t *testing.T, typ commercev1.Event_Type, resource string, n int) []string {
	t.Helper()
	var out []string
	err := h.st.DB.Update(func(tx kv.Tx) error {
		out = out[:0]
		for range n {
			seq++
			e := &commercev1.Event{
				Name: fmt.Sprintf("organizations/contoso/events/e%04d", seq), Type: typ, Resource: resource,
				CreateTime: timestamppb.New(time.Date(2026, 3, 1, 0, 0, seq, 0, time.UTC)),
			}
			if _, err := store.InsertEvent(tx, e); err != nil {
				return err
			}
			out = append(out, e.GetName())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (h *harness) round(t *testing.T) int {
	t.Helper()
	n, err := h.sender.Round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (h *harness) deliveries(t *testing.T) map[string]*commercev1.WebhookDelivery {
	t.Helper()
	out := map[string]*commercev1.WebhookDelivery{}
	err := h.st.DB.View(func(tx kv.Tx) error {
		ds, _, err := store.ListDeliveries(tx, "contoso", "wh-1", nil, 1000)
		for _, d := range ds {
			out[d.GetEvent()] = d
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const sub = "organizations/contoso/subscriptions/s1"

func TestDeliversInOrderPerResourceAndRetries(t *testing.T) {
	h := newHarness(t)
	a := h.record(t, commercev1.Event_SUBSCRIPTION_PURCHASED, sub, 1)
	a = append(a, h.record(t, commercev1.Event_QUANTITY_CHANGED, sub, 2)...)
	b := h.record(t, commercev1.Event_SUBSCRIPTION_PURCHASED, "organizations/contoso/subscriptions/s2", 1)
	h.recv.fail[a[0]] = http.StatusServiceUnavailable

	// One attempt per resource at a time: s1's first (refused) and s2's.
	if n := h.round(t); n != 2 {
		t.Fatalf("first round made %d attempts, want 2", n)
	}
	if got := h.recv.events(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{a[0], b[0]}) {
		t.Fatalf("first round sent %v, want %v and %v", got, a[0], b[0])
	}
	d := h.deliveries(t)[a[0]]
	if d.GetState() != commercev1.WebhookDelivery_PENDING || d.GetAttempts() != 1 || d.GetLastStatusCode() != 503 || d.GetLastError() == "" {
		t.Fatalf("refused delivery = %v", d)
	}
	if want := h.now().Add(webhook.FirstRetry); !d.GetNextAttemptTime().AsTime().Equal(want) {
		t.Fatalf("next attempt %v, want %v", d.GetNextAttemptTime().AsTime(), want)
	}
	// s1's later events wait behind the refused one.
	if n := h.round(t); n != 0 {
		t.Fatalf("a round before the retry is due made %d attempts", n)
	}
	h.advance(webhook.FirstRetry)
	delete(h.recv.fail, a[0])
	for h.round(t) > 0 {
	}
	got := h.recv.events()
	var s1 []string
	for _, e := range got {
		if e != b[0] {
			s1 = append(s1, e)
		}
	}
	if want := []string{a[0], a[0], a[1], a[2]}; !slices.Equal(s1, want) {
		t.Fatalf("s1's deliveries arrived as %v, want %v", s1, want)
	}
	for _, e := range append(a, b...) {
		if d := h.deliveries(t)[e]; d.GetState() != commercev1.WebhookDelivery_DELIVERED || d.GetDeliverTime() == nil {
			t.Fatalf("delivery of %s = %v", e, d)
		}
	}
}

func TestEventTypesFilter(t *testing.T) {
	h := newHarness(t, commercev1.Event_SUBSCRIPTION_CANCELLED)
	h.record(t, commercev1.Event_SUBSCRIPTION_PURCHASED, sub, 1)
	want := h.record(t, commercev1.Event_SUBSCRIPTION_CANCELLED, sub, 1)
	for h.round(t) > 0 {
	}
	if got := h.recv.events(); !slices.Equal(got, want) {
		t.Fatalf("sent %v, want only the cancellation %v", got, want)
	}
}

func TestLeaseThenRetakenWithTheSameEvent(t *testing.T) {
	h := newHarness(t)
	e := h.record(t, commercev1.Event_SUBSCRIPTION_PURCHASED, sub, 1)[0]
	if _, err := h.sender.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Redelivered, then claimed by a sender that dies before it settles.
	id := idOf(h.deliveries(t)[e].GetName())
	if err := h.st.DB.Update(func(tx kv.Tx) error {
		_, err := store.Redeliver(tx, "contoso", "wh-1", id, h.now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var refs []store.QueueRef
	_ = h.st.DB.View(func(tx kv.Tx) (err error) { refs, err = store.DueDeliveries(tx, h.now(), 10); return err })
	if len(refs) != 1 {
		t.Fatalf("due: %v", refs)
	}
	if err := h.st.DB.Update(func(tx kv.Tx) error {
		_, ok, err := store.Claim(tx, refs[0], h.now(), webhooks.Lease)
		if !ok {
			t.Error("claim refused")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := h.round(t); n != 0 {
		t.Fatalf("a held delivery was attempted %d times", n)
	}
	h.advance(webhooks.Lease)
	if n := h.round(t); n != 1 {
		t.Fatalf("after the lease, %d attempts, want 1", n)
	}
	if got := h.recv.events(); !slices.Equal(got, []string{e, e}) {
		t.Fatalf("sent %v, want %s twice (first, redelivered)", got, e)
	}
	if d := h.deliveries(t)[e]; d.GetAttempts() != 3 || d.GetState() != commercev1.WebhookDelivery_DELIVERED {
		t.Fatalf("delivery = %v, want 3 attempts (sent, died, sent) and DELIVERED", d)
	}
}

func TestGivesUpAfterThreeDaysAndRedelivers(t *testing.T) {
	h := newHarness(t)
	e := h.record(t, commercev1.Event_SUBSCRIPTION_PURCHASED, sub, 1)[0]
	h.recv.fail[e] = http.StatusInternalServerError
	attempts := 0
	for range 200 {
		attempts += h.round(t)
		if h.deliveries(t)[e].GetState() != commercev1.WebhookDelivery_PENDING {
			break
		}
		h.advance(webhook.MaxRetry)
	}
	d := h.deliveries(t)[e]
	if d.GetState() != commercev1.WebhookDelivery_FAILED || int(d.GetAttempts()) != attempts {
		t.Fatalf("after %d attempts: %v", attempts, d)
	}
	// 10 s doubling to an hour, then hourly for 72 h: about 80 attempts.
	if attempts < 70 || attempts > 85 {
		t.Fatalf("%d attempts over three days", attempts)
	}
	delete(h.recv.fail, e)
	err := h.st.DB.Update(func(tx kv.Tx) error {
		d, err := store.Redeliver(tx, "contoso", "wh-1", idOf(d.GetName()), h.now())
		if err == nil && d.GetState() != commercev1.WebhookDelivery_PENDING {
			t.Errorf("redelivered: %v", d)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.round(t); n != 1 {
		t.Fatalf("redelivery made %d attempts", n)
	}
	if d := h.deliveries(t)[e]; d.GetState() != commercev1.WebhookDelivery_DELIVERED {
		t.Fatalf("after redelivery: %v", d)
	}
}

func TestDeleteWebhookStopsDeliveries(t *testing.T) {
	h := newHarness(t)
	h.record(t, commercev1.Event_SUBSCRIPTION_PURCHASED, sub, 3)
	err := h.st.DB.Update(func(tx kv.Tx) error {
		if _, err := store.FanOut(tx, h.now(), 100); err != nil {
			return err
		}
		return store.DeleteWebhook(tx, "contoso", "wh-1")
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.round(t); n != 0 {
		t.Fatalf("%d attempts to a deleted webhook", n)
	}
	_ = h.st.DB.View(func(tx kv.Tx) error {
		if f, q := store.WebhookBacklog(tx); f != 0 || q != 0 {
			t.Errorf("backlog after delete: %d to fan out, %d queued", f, q)
		}
		return nil
	})
}

func TestDeliveryLogKeepsTheNewest(t *testing.T) {
	h := newHarness(t)
	n := store.DeliveryLog + 5
	for i := 0; i < n; i += 200 {
		h.record(t, commercev1.Event_LICENSES_ASSIGNED, fmt.Sprintf("organizations/contoso/licenses/l%d", i), min(200, n-i))
		for h.round(t) > 0 {
		}
	}
	if got := len(h.recv.events()); got != n {
		t.Fatalf("%d sent, want %d", got, n)
	}
	var total int
	_ = h.st.DB.View(func(tx kv.Tx) error {
		var next []byte
		for {
			ds, nx, err := store.ListDeliveries(tx, "contoso", "wh-1", next, 1000)
			if err != nil {
				t.Fatal(err)
			}
			total += len(ds)
			if nx == nil {
				return nil
			}
			next = nx
		}
	})
	if total != store.DeliveryLog {
		t.Fatalf("the log holds %d deliveries, want %d", total, store.DeliveryLog)
	}
}

func idOf(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}

// TestQueuedAtARoundTime queues at a time whose nanoseconds end in zero
// bytes (0x17979cfe362a0000): the queue key must still tell the resource
// from the delivery.
func TestQueuedAtARoundTime(t *testing.T) {
	h := newHarness(t)
	h.at = time.Unix(1_700_000_000, 0)
	want := h.record(t, commercev1.Event_SUBSCRIPTION_PURCHASED, sub, 2)
	for h.round(t) > 0 {
	}
	if got := h.recv.events(); !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}

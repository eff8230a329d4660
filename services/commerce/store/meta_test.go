package store_test

import (
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/kv"
)

func fullMeta() *store.Meta {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	return &store.Meta{
		Version: 7, Currency: "SEK", Anchor: at, TrialNeedsPayment: true, DisabledAt: at.Add(time.Hour), LastOrder: 12,
		Pending: []store.Step{
			{Kind: "charge", Key: "organizations/o/subscriptions/s/orders/o00000012", Profile: "organizations/o/billingAccounts/ba/billingProfiles/default",
				Lines: []store.Line{
					{Type: 3, Description: "Produkt, 5 × monthly", Quantity: 5, Start: at, End: at.AddDate(0, 1, 0), Amount: 12345},
					{Type: 4, Description: "credit", Quantity: -2, Start: at, End: at.AddDate(1, 0, 0), Amount: -678},
				},
				PastDue: true, Order: 12, Actor: "organizations/o/users/u"},
			{Kind: "create_pool", Version: 3, Product: "products/p", Purchaser: "organizations/o/users/u", Channel: 2, Total: 25, State: 1},
			{Kind: "transfer", Target: "organizations/o/licenses/t", Version: -1},
			{Kind: "event", EventType: 9, Actor: "organizations/o/users/u", ActorName: "Ada", Meta: map[string]string{"count": "5", "from": "3", "": "empty key"}},
		},
		Undo: []byte{0, 1, 2, 0xff}, Hidden: true, Declined: "insufficient_funds", TakenOver: "organizations/o/users/admin",
	}
}

func putAndGet(t *testing.T, st *store.Store, m *store.Meta) *store.Meta {
	t.Helper()
	sub := &commercev1.Subscription{Name: "organizations/o/subscriptions/s", Purchaser: "organizations/o/users/u"}
	var got *store.Meta
	if err := st.DB.Update(func(tx kv.Tx) error {
		return store.PutSubscription(tx, "o", "s", "u", sub, m)
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.DB.View(func(tx kv.Tx) (err error) {
		_, got, err = store.GetSubscription(tx, "o", "s")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// sameMeta compares metas with times compared as instants.
func sameMeta(t *testing.T, got, want *store.Meta) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("meta read back differs:\n got %s\nwant %s", g, w)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	st := open(t)
	for _, m := range []*store.Meta{fullMeta(), {}, {Version: 1, Anchor: time.Unix(0, 0).UTC(), LastOrder: 1}} {
		sameMeta(t, putAndGet(t, st, m), m)
	}
	if got := putAndGet(t, st, &store.Meta{}); got.Pending != nil || got.Undo != nil || !got.Anchor.IsZero() || !got.DisabledAt.IsZero() {
		t.Fatalf("an empty meta reads back as %+v", got)
	}
}

// Metas written as JSON by earlier versions are still read.
func TestMetaReadsJSON(t *testing.T) {
	st := open(t)
	want := fullMeta()
	v, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got *store.Meta
	if err := st.DB.Update(func(tx kv.Tx) error {
		sub := &commercev1.Subscription{Name: "organizations/o/subscriptions/s", NextLifecycleTime: timestamppb.New(want.Anchor)}
		if err := store.PutSubscription(tx, "o", "s", "u", sub, &store.Meta{}); err != nil {
			return err
		}
		if err := tx.Bucket(store.SubscriptionMetaBucket).Put(kv.Key("o", "s"), v); err != nil {
			return err
		}
		_, got, err = store.GetSubscription(tx, "o", "s")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Pending, want.Pending) {
		t.Fatalf("pending steps from JSON: got %+v, want %+v", got.Pending, want.Pending)
	}
	sameMeta(t, got, want)
}

// fill sets every exported field of the struct v points to, recursively, to
// a value other than its zero value.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	timeType := reflect.TypeOf(time.Time{})
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		switch {
		case f.Type() == timeType:
			f.Set(reflect.ValueOf(time.Date(2027, 1, 2, 3, 4, 5, 6, time.UTC).Add(time.Duration(i) * time.Hour)))
		case f.Kind() == reflect.String:
			f.SetString(sf.Name + " ✓")
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.CanInt():
			f.SetInt(-int64(i) - 3)
		case f.CanUint():
			f.SetUint(uint64(i) + 3)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8:
			f.SetBytes([]byte{0, byte(i), 0xff})
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			s := reflect.MakeSlice(f.Type(), 2, 2)
			fill(t, s.Index(0))
			fill(t, s.Index(1))
			f.Set(s)
		case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf(map[string]string{"a": sf.Name, "b": ""}).Convert(f.Type()))
		default:
			t.Fatalf("%s.%s is a %s: teach meta.go (and this test) to store it", v.Type().Name(), sf.Name, f.Type())
		}
	}
}

// Every field of Meta, Step and Line is stored: one added to the structs
// but not to meta.go fails here.
func TestMetaEncodesEveryField(t *testing.T) {
	m := &store.Meta{}
	fill(t, reflect.ValueOf(m).Elem())
	sameMeta(t, putAndGet(t, open(t), m), m)
}

// storedBytes is fullMeta as the store wrote it before the storage message
// had a .proto (the hand-written codec of the protobuf wire format): what
// stores hold today must read the same.
const storedBytes = "01080e120353454b1a0f010000000ee139b4bf350e34c0ffff20012a0f010000000ee139c2cf350e34c0ffff300c3a89020a0663686172676512306f7267616e697a6174696f6e732f6f2f737562736372697074696f6e732f732f6f72646572732f6f30303030303031321a3a6f7267616e697a6174696f6e732f6f2f62696c6c696e674163636f756e74732f62612f62696c6c696e6750726f66696c65732f64656661756c7422410806121550726f64756b742c203520c397206d6f6e74686c79180a220f010000000ee139b4bf350e34c0ffff2a0f010000000ee162933f350e34c0ffff30f2c0012231080812066372656469741803220f010000000ee139b4bf350e34c0ffff2a0f010000000ee31ae83f350e34c0ffff30cb0a2801300c5a176f7267616e697a6174696f6e732f6f2f75736572732f753a3a0a0b6372656174655f706f6f6c38324002480660046a0a70726f64756374732f7072176f7267616e697a6174696f6e732f6f2f75736572732f753a280a087472616e736665724801521a6f7267616e697a6174696f6e732f6f2f6c6963656e7365732f743a510a056576656e745a176f7267616e697a6174696f6e732f6f2f75736572732f7578128201034164618a010d0a001209656d707479206b65798a010a0a05636f756e741201358a01090a0466726f6d1201334204000102ff48015212696e73756666696369656e745f66756e64735a1b6f7267616e697a6174696f6e732f6f2f75736572732f61646d696e"

func TestMetaReadsStoredBytes(t *testing.T) {
	st := open(t)
	v, err := hex.DecodeString(storedBytes)
	if err != nil {
		t.Fatal(err)
	}
	var got *store.Meta
	if err := st.DB.Update(func(tx kv.Tx) error {
		sub := &commercev1.Subscription{Name: "organizations/o/subscriptions/s"}
		if err := store.PutSubscription(tx, "o", "s", "u", sub, &store.Meta{}); err != nil {
			return err
		}
		if err := tx.Bucket(store.SubscriptionMetaBucket).Put(kv.Key("o", "s"), v); err != nil {
			return err
		}
		_, got, err = store.GetSubscription(tx, "o", "s")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sameMeta(t, got, fullMeta())
	// And it writes them back byte for byte: the message is the format.
	if err := st.DB.Update(func(tx kv.Tx) error {
		if err := store.PutSubscription(tx, "o", "s", "u", &commercev1.Subscription{Name: "organizations/o/subscriptions/s", Purchaser: "organizations/o/users/u"}, got); err != nil {
			return err
		}
		if again := tx.Bucket(store.SubscriptionMetaBucket).Get(kv.Key("o", "s")); hex.EncodeToString(again) != storedBytes {
			t.Errorf("written back as %x", again)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

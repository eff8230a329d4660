package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	_ "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/gateway/jsonenc"
)

// same fails the test unless jsonenc writes m as protojson does: the same
// bytes once protojson's random spaces are taken out, or the same error.
func same(t *testing.T, m proto.Message) {
	t.Helper()
	want, wantErr := jsonenc.Options.Marshal(m)
	got, gotErr := jsonenc.Marshal(m)
	if (wantErr != nil) != (gotErr != nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
		t.Fatalf("%s: error %v, protojson's %v", m.ProtoReflect().Descriptor().FullName(), gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatalf("protojson wrote no JSON: %v", err)
	}
	if !bytes.Equal(got, compact.Bytes()) {
		t.Fatalf("%s:\n got %s\nwant %s", m.ProtoReflect().Descriptor().FullName(), got, compact.Bytes())
	}
}

// TestEveryMessageOfTheAPI fills every message of the API's packages at
// random (every field set or not, lists and maps of several items, unknown
// enum numbers, odd strings, odd numbers) and compares with protojson.
func TestEveryMessageOfTheAPI(t *testing.T) {
	var types []protoreflect.MessageType
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if strings.HasPrefix(string(mt.Descriptor().FullName()), "selfserve.") {
			types = append(types, mt)
		}
		return true
	})
	if len(types) < 100 {
		t.Fatalf("only %d message types registered: the API's packages are not linked in", len(types))
	}
	r := rand.New(rand.NewPCG(1, 2))
	var fast, all int
	for _, mt := range types {
		for range 40 {
			m := mt.New()
			fill(r, m, 0)
			same(t, m.Interface())
			all++
			if _, err := jsonenc.AppendMessage(nil, m.Interface()); err == nil {
				fast++
			}
		}
		same(t, mt.New().Interface()) // every field unset
		if _, err := jsonenc.AppendMessage(nil, mt.New().Interface()); err != nil {
			t.Errorf("%s, empty, went to protojson: %v", mt.Descriptor().FullName(), err)
		}
	}
	// The rest are the messages given a timestamp out of range on purpose.
	if fast < all*3/4 {
		t.Fatalf("only %d of %d messages written without protojson", fast, all)
	}
	t.Logf("%d message types, %d messages, %d written without protojson", len(types), all, fast)
}

func TestWellKnownTypes(t *testing.T) {
	for _, m := range []proto.Message{
		timestamppb.New(timestamppb.Now().AsTime()),
		&timestamppb.Timestamp{Seconds: 1, Nanos: 1_000_000},
		&timestamppb.Timestamp{Seconds: 1, Nanos: 1_000},
		&timestamppb.Timestamp{Seconds: -62135596800},
		&timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999999999},
		&timestamppb.Timestamp{Seconds: 253402300800},
		&timestamppb.Timestamp{Nanos: -1},
		&durationpb.Duration{Seconds: -3, Nanos: -500_000_000},
		&durationpb.Duration{Seconds: 3, Nanos: -5},
		&durationpb.Duration{Seconds: 315576000001},
		&durationpb.Duration{Nanos: 10},
		&fieldmaskpb.FieldMask{Paths: []string{"billing_profile.address_line1", "a.b_c"}},
		&fieldmaskpb.FieldMask{Paths: []string{"fooBar"}},
		&fieldmaskpb.FieldMask{Paths: []string{"foo__bar"}},
		&fieldmaskpb.FieldMask{Paths: []string{"a b"}},
		wrapperspb.String("x\u2028\"\\\x01"), wrapperspb.Bytes([]byte{0, 255}), wrapperspb.Int64(-1 << 62),
		wrapperspb.UInt64(math.MaxUint64), wrapperspb.Double(math.Inf(-1)), wrapperspb.Float(1e-7),
		structpb.NewStringValue("through protojson"),
	} {
		same(t, m)
	}
}

func TestInvalidUTF8IsProtojsonsError(t *testing.T) {
	same(t, &licensingv1.User{DisplayName: "bad \xff byte"})
}

func FuzzMarshal(f *testing.F) {
	seeds := []proto.Message{
		&commercev1.ListSubscriptionsResponse{Subscriptions: []*commercev1.Subscription{{Name: "organizations/contoso/subscriptions/s-1", Quantity: 5}}},
		&billingv1.Invoice{Name: "organizations/contoso/billingAccounts/a/invoices/i", IssueTime: timestamppb.Now()},
		&licensingv1.User{DisplayName: "Zoë \t\"x\""},
	}
	for i, m := range seeds {
		b, _ := proto.Marshal(m)
		f.Add(uint8(i), b)
	}
	kinds := []protoreflect.MessageType{}
	for _, m := range seeds {
		kinds = append(kinds, m.ProtoReflect().Type())
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		m := kinds[int(kind)%len(kinds)].New().Interface()
		if proto.Unmarshal(data, m) != nil {
			return
		}
		same(t, m)
	})
}

// fill sets each field of m at random (about two in three), to depth 3.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if r.IntN(3) == 0 {
			continue
		}
		if fd.Kind() == protoreflect.MessageKind && depth >= 3 {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				if fd.Kind() == protoreflect.MessageKind {
					e := l.NewElement()
					fill(r, e.Message(), depth+1)
					l.Append(e)
				} else {
					l.Append(value(r, fd))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := value(r, fd.MapKey()).MapKey()
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					e := mp.NewValue()
					fill(r, e.Message(), depth+1)
					mp.Set(k, e)
				} else {
					mp.Set(k, value(r, fd.MapValue()))
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			sub := m.Mutable(fd).Message()
			fillKnown(r, sub)
			if sub.Descriptor().FullName().Parent() != "google.protobuf" {
				fill(r, sub, depth+1)
			}
		default:
			m.Set(fd, value(r, fd))
		}
	}
}

// fillKnown gives the well-known types values, in range or (rarely) not.
func fillKnown(r *rand.Rand, m protoreflect.Message) {
	fds := m.Descriptor().Fields()
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		secs := r.Int64N(4_000_000_000) - 1_000_000_000
		nanos := []int64{0, 1_000_000 * r.Int64N(1000), 1000 * r.Int64N(1_000_000), r.Int64N(1_000_000_000)}[r.IntN(4)]
		if m.Descriptor().Name() == "Duration" && secs < 0 {
			nanos = -nanos
		}
		if r.IntN(50) == 0 {
			secs = 1 << 60
		}
		m.Set(fds.ByNumber(1), protoreflect.ValueOfInt64(secs))
		m.Set(fds.ByNumber(2), protoreflect.ValueOfInt32(int32(nanos)))
	case "google.protobuf.FieldMask":
		l := m.Mutable(fds.ByNumber(1)).List()
		for range r.IntN(3) {
			l.Append(protoreflect.ValueOfString([]string{"display_name", "billing_profile.address_line1", "quantity", "auto_renew"}[r.IntN(4)]))
		}
	}
}

var odd = []string{"", "plain", "Zoë", "中文", "tab\there", "quote\"back\\slash", "\x00\x1f\x7f", "\u2028\u2029", "<&>", "\U0001F600", "\ufffd"}

func value(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(odd[r.IntN(len(odd))])
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(r.Uint32()))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(r.Uint32())
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(r.Uint64()))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(r.Uint64())
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(oddFloat(r)))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(oddFloat(r))
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if r.IntN(10) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(1000 + r.IntN(10)))
		}
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	}
	panic("no value for " + fd.Kind().String())
}

func oddFloat(r *rand.Rand) float64 {
	return []float64{0, 1.5, -2, 1e-7, 1e21, 123456789.125, math.NaN(), math.Inf(1), math.Inf(-1), r.NormFloat64() * 1e10}[r.IntN(10)]
}

// BenchmarkPage compares the two encoders on a page of 50 subscriptions as
// the list answers it: go test ./jsonenc -bench Page -benchmem
func BenchmarkPage(b *testing.B) {
	page := &commercev1.ListSubscriptionsResponse{NextPageToken: "CgdzLTAwMDUw"}
	start := timestamppb.New(time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC))
	end := timestamppb.New(time.Date(2027, 12, 7, 9, 30, 0, 0, time.UTC))
	for i := range 50 {
		page.Subscriptions = append(page.Subscriptions, &commercev1.Subscription{
			Name:                 fmt.Sprintf("organizations/contoso/subscriptions/s-%06d", i),
			Product:              "products/m365-business-basic",
			ProductDisplayName:   "Microsoft 365 Business Basic",
			Purchaser:            "organizations/contoso/users/max",
			PurchaserDisplayName: "Max Mustermann",
			Channel:              commercev1.Subscription_SELF_SERVICE,
			State:                commercev1.Subscription_ACTIVE,
			Quantity:             5,
			AssignedLicenses:     2,
			BillingFrequency:     commercev1.Product_MONTHLY,
			UnitPrice:            &commercev1.Money{CurrencyCode: "USD", AmountMinor: 600},
			AutoRenew:            true,
			StartTime:            start,
			EndTime:              end,
			NextLifecycleTime:    end,
			BillingProfile:       "organizations/contoso/billingAccounts/ba-1/billingProfiles/bp-1",
			AssignedUsers: []*commercev1.Subscription_AssignedUser{
				{User: "organizations/contoso/users/max", DisplayName: "Max Mustermann"},
				{User: "organizations/contoso/users/zoe", DisplayName: "Zoë Ödegaard"},
			},
			TermStartTime: start,
		})
	}
	if _, err := jsonenc.AppendMessage(nil, page); err != nil {
		b.Fatal(err)
	}
	b.Run("protojson", func(b *testing.B) {
		for b.Loop() {
			if _, err := jsonenc.Options.Marshal(page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsonenc", func(b *testing.B) {
		for b.Loop() {
			if _, err := jsonenc.Marshal(page); err != nil {
				b.Fatal(err)
			}
		}
	})
}

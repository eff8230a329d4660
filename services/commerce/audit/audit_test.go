package audit

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/locale"
)

func valid() *commercev1.Event {
	return &commercev1.Event{
		Name:             "organizations/acme/events/licensing-000000000000002a",
		Type:             commercev1.Event_LICENSES_ASSIGNED,
		Actor:            "organizations/acme/users/ada",
		ActorDisplayName: "Ada Lovelace",
		Resource:         "organizations/acme/licenses/s-1",
		Description:      "ignored",
		CreateTime:       timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		Metadata:         map[string]string{MetaCount: "2", MetaUsers: "organizations/acme/users/bob,organizations/acme/users/eve"},
	}
}

func TestNormalize(t *testing.T) {
	in := valid()
	out, err := Normalize("events[0]", in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Description != "" || in.Description != "ignored" || out.Name != in.Name || len(out.Metadata) != 2 {
		t.Fatalf("normalized %v from %v", out, in)
	}

	many := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%02d", i)] = "v"
		}
		return m
	}
	cases := []struct {
		name   string
		edit   func(e *commercev1.Event)
		reason errs.Reason // zero: valid
		field  string
	}{
		{"system event", func(e *commercev1.Event) { e.Actor, e.ActorDisplayName, e.Resource, e.Metadata = "", "", "", nil }, errs.Reason{}, ""},
		{"63-character id", func(e *commercev1.Event) { e.Name = "organizations/acme/events/" + strings.Repeat("a", 63) }, errs.Reason{}, ""},
		{"limits reached", func(e *commercev1.Event) {
			e.Resource = strings.Repeat("é", MaxResource)
			e.Metadata = many(MaxMetadata)
			e.Metadata[strings.Repeat("k", MaxMetadataKey)] = strings.Repeat("v", MaxMetadataValue)
			delete(e.Metadata, "k00")
		}, errs.Reason{}, ""},
		{"no name", func(e *commercev1.Event) { e.Name = "" }, errs.InvalidName, "events[3].name"},
		{"wrong collection", func(e *commercev1.Event) { e.Name = "organizations/acme/things/x" }, errs.InvalidName, "events[3].name"},
		{"64-character id", func(e *commercev1.Event) { e.Name = "organizations/acme/events/" + strings.Repeat("a", 64) }, errs.InvalidName, "events[3].name"},
		{"unspecified type", func(e *commercev1.Event) { e.Type = commercev1.Event_TYPE_UNSPECIFIED }, errs.InvalidField, "events[3].type"},
		{"unknown type", func(e *commercev1.Event) { e.Type = 99 }, errs.InvalidField, "events[3].type"},
		{"no create time", func(e *commercev1.Event) { e.CreateTime = nil }, errs.InvalidField, "events[3].create_time"},
		{"bad create time", func(e *commercev1.Event) { e.CreateTime = &timestamppb.Timestamp{Seconds: 1, Nanos: 2e9} }, errs.InvalidField, "events[3].create_time"},
		{"before 1970", func(e *commercev1.Event) {
			e.CreateTime = timestamppb.New(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC))
		}, errs.InvalidField, "events[3].create_time"},
		{"actor of another organization", func(e *commercev1.Event) { e.Actor = "organizations/other/users/ada" }, errs.InvalidField, "events[3].actor"},
		{"actor not a user", func(e *commercev1.Event) { e.Actor = "ada" }, errs.InvalidField, "events[3].actor"},
		{"control character in display name", func(e *commercev1.Event) { e.ActorDisplayName = "Ada\n" }, errs.InvalidField, "events[3].actor_display_name"},
		{"resource too long", func(e *commercev1.Event) { e.Resource = strings.Repeat("r", MaxResource+1) }, errs.InvalidField, "events[3].resource"},
		{"too much metadata", func(e *commercev1.Event) { e.Metadata = many(MaxMetadata + 1) }, errs.InvalidField, "events[3].metadata"},
		{"empty key", func(e *commercev1.Event) { e.Metadata[""] = "v" }, errs.InvalidField, "events[3].metadata"},
		{"long key", func(e *commercev1.Event) { e.Metadata[strings.Repeat("k", MaxMetadataKey+1)] = "v" }, errs.InvalidField, "events[3].metadata"},
		{"long value", func(e *commercev1.Event) { e.Metadata["note"] = strings.Repeat("v", MaxMetadataValue+1) }, errs.InvalidField, "events[3].metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := valid()
			c.edit(e)
			_, err := Normalize("events[3]", e)
			if c.reason == (errs.Reason{}) {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var de *errs.Error
			if !errors.As(err, &de) || de.Reason != c.reason || de.Metadata["field"] != c.field {
				t.Fatalf("got %v, want %s on %s", err, c.reason.Name, c.field)
			}
		})
	}
}

// placeholders lists the placeholders of a wording.
func placeholders(text string) []string {
	var out []string
	for {
		open := strings.IndexByte(text, '{')
		if open < 0 {
			return out
		}
		end := strings.IndexByte(text[open:], '}')
		if end < 0 {
			return out
		}
		out = append(out, text[open+1:open+end])
		text = text[open+end+1:]
	}
}

func TestCatalogIsComplete(t *testing.T) {
	if missing := messages.Missing(); len(missing) > 0 {
		t.Errorf("missing translations: %v", missing)
	}
	for _, n := range slices.Sorted(maps.Keys(commercev1.Event_Type_name)) {
		typ := commercev1.Event_Type(n)
		variants := sentences[typ]
		if len(variants) == 0 {
			t.Errorf("%v: no sentence", typ)
			continue
		}
		for j, s := range variants {
			want := placeholders(s[0])
			slices.Sort(want)
			for i, text := range s {
				got := placeholders(text)
				slices.Sort(got)
				if !slices.Equal(got, want) || text == "" {
					t.Errorf("%v variant %d in %v uses %v, English %v", typ, j, locale.Supported[i], got, want)
				}
			}
		}
		if last := placeholders(variants[len(variants)-1][0]); !slices.Equal(last, []string{"actor"}) {
			t.Errorf("%v: the last wording needs %v, want only the actor", typ, last)
		}
	}
}

// TestDescribeEveryTypeEveryLanguage writes every type in every language, for
// an event with nothing to go on and for one with everything.
func TestDescribeEveryTypeEveryLanguage(t *testing.T) {
	bare := func(typ commercev1.Event_Type) *commercev1.Event { return &commercev1.Event{Type: typ} }
	full := func(typ commercev1.Event_Type) *commercev1.Event {
		e := valid()
		e.Type = typ
		e.Metadata = map[string]string{
			MetaProduct: "Contoso Mail", MetaCount: "3", MetaUsers: "organizations/acme/users/bob, organizations/acme/users/eve",
			MetaFrom: "5", MetaTo: "8", MetaReason: "TOO_EXPENSIVE", MetaState: "EXPIRED", MetaAutoRenew: "false",
			MetaPolicy: "DISABLED", MetaTarget: "organizations/acme/subscriptions/s-2", MetaBrand: "VISA", MetaLast4: "4242",
		}
		return e
	}
	resourceOnly := func(typ commercev1.Event_Type) *commercev1.Event {
		return &commercev1.Event{Type: typ, Resource: "organizations/acme/subscriptions/s-1"}
	}
	for _, n := range slices.Sorted(maps.Keys(commercev1.Event_Type_name)) {
		typ := commercev1.Event_Type(n)
		for kind, mk := range map[string]func(commercev1.Event_Type) *commercev1.Event{"bare": bare, "resource": resourceOnly, "full": full} {
			e := mk(typ)
			english := Describe(e, locale.English)
			for _, lang := range locale.Supported {
				got := Describe(e, lang)
				switch {
				case got == "":
					t.Errorf("%v %s in %v: empty", typ, kind, lang)
				case strings.ContainsAny(got, "{}"):
					t.Errorf("%v %s in %v: placeholder left in %q", typ, kind, lang, got)
				case lang != locale.English && got == english:
					t.Errorf("%v %s in %v: same as English: %q", typ, kind, lang, got)
				}
				if kind == "bare" && !strings.HasPrefix(got, systemActor[langIndex(lang)]) {
					t.Errorf("%v in %v: %q does not start with the system", typ, lang, got)
				}
				if kind == "full" && !strings.Contains(got, "Ada Lovelace") {
					t.Errorf("%v in %v: %q does not name the actor", typ, lang, got)
				}
			}
		}
	}
}

func TestDescribeFillsMetadata(t *testing.T) {
	fr := language.MustParse("fr-CA") // matched to French
	ev := func(typ commercev1.Event_Type, md ...string) *commercev1.Event {
		e := &commercev1.Event{Type: typ, Resource: "organizations/acme/subscriptions/s-1", ActorDisplayName: "Ada", Metadata: map[string]string{}}
		for i := 0; i+1 < len(md); i += 2 {
			e.Metadata[md[i]] = md[i+1]
		}
		return e
	}
	cases := []struct {
		e    *commercev1.Event
		lang language.Tag
		want string
	}{
		{ev(commercev1.Event_LICENSES_ASSIGNED, MetaUsers, "organizations/acme/users/bob, organizations/acme/users/eve", MetaCount, "2"), locale.English,
			"Ada assigned 2 licenses of s-1 to bob, eve."},
		{ev(commercev1.Event_LICENSES_ASSIGNED, MetaUsers, "organizations/acme/users/bob", MetaProduct, "Contoso Mail"), locale.Chinese,
			"Ada将 Contoso Mail 的 1 个许可证分配给了 bob。"},
		{ev(commercev1.Event_LICENSES_ASSIGNED, MetaProduct, "products/mail", MetaProductDisplayName, "Contoso Mail", MetaCount, "3"), locale.English,
			"Ada assigned 3 licenses of Contoso Mail."},
		{ev(commercev1.Event_LICENSES_UNASSIGNED, MetaProduct, "products/mail", MetaCount, "0"), fr, "Ada a retiré 0 licence de mail."},
		{ev(commercev1.Event_LICENSES_UNASSIGNED, MetaCount, "1"), fr, "Ada a retiré 1 licence de s-1."},
		{ev(commercev1.Event_QUANTITY_CHANGED, MetaFrom, "5", MetaTo, "8"), locale.Swedish,
			"Ada ändrade antalet licenser för s-1 från 5 till 8."},
		{ev(commercev1.Event_QUANTITY_CHANGED, MetaTo, "8"), locale.English, "Ada changed the number of licenses of s-1 to 8."},
		{ev(commercev1.Event_SUBSCRIPTION_CANCELLED, MetaReason, "TOO_EXPENSIVE", MetaProduct, "Contoso Mail"), fr, "Ada a résilié Contoso Mail (motif : trop cher)."},
		{ev(commercev1.Event_SUBSCRIPTION_CANCELLED, MetaReason, "SOMETHING_NEW"), locale.English, "Ada cancelled s-1 (reason: SOMETHING_NEW)."},
		{ev(commercev1.Event_PAYMENT_METHOD_ADDED, MetaBrand, "VISA", MetaLast4, "4242"), locale.English, "Ada added the Visa card ending in 4242."},
		{ev(commercev1.Event_PAYMENT_METHOD_DELETED, MetaLast4, "0005"), locale.Swedish, "Ada tog bort kortet som slutar på 0005."},
		{ev(commercev1.Event_PAYMENT_METHOD_UPDATED, MetaBrand, "ALIPAY"), locale.Chinese, "Ada更新了支付宝账户。"},
		{ev(commercev1.Event_AUTO_RENEW_CHANGED, MetaAutoRenew, "false"), fr, "Ada a désactivé le renouvellement automatique de s-1."},
		{ev(commercev1.Event_SUBSCRIPTION_PURCHASED, MetaProduct, "Contoso Mail", MetaCount, "10"), locale.Swedish, "Ada köpte 10 licenser för Contoso Mail."},
		{&commercev1.Event{Type: commercev1.Event_SUBSCRIPTION_RENEWED, Resource: "organizations/acme/subscriptions/s-1"}, locale.Swedish,
			"Systemet förnyade s-1."},
		{&commercev1.Event{Type: commercev1.Event_SUBSCRIPTION_STATE_CHANGED, Metadata: map[string]string{MetaState: "EXPIRED"}}, locale.Chinese,
			"系统将一个订阅的状态更改为“已过期”。"},
		// An actor without a display name is shown by id, not as the system.
		{&commercev1.Event{Type: commercev1.Event_TRIAL_STARTED, Actor: "organizations/acme/users/bob"}, locale.French, "bob a démarré un essai."},
		// An unknown type still reads as something.
		{&commercev1.Event{Type: 42, Resource: "organizations/acme/things/x"}, locale.English, "The system made a change to x."},
	}
	for _, c := range cases {
		if got := Describe(c.e, c.lang); got != c.want {
			t.Errorf("%v %v in %v:\n got %q\nwant %q", c.e.Type, c.e.Metadata, c.lang, got, c.want)
		}
	}
}

func TestDescribeDefaultPolicy(t *testing.T) {
	e := &commercev1.Event{Type: commercev1.Event_POLICY_CHANGED, Resource: "organizations/o/selfServiceSettings",
		Metadata: map[string]string{"scope": "default", "policy": "DISABLED"}}
	for _, lang := range locale.Supported {
		if got := Describe(e, lang); strings.Contains(got, "selfServiceSettings") {
			t.Errorf("%s: %q names the settings resource", lang, got)
		}
	}
}

// TestDescribeNamesPeopleAndProducts: people and products by display name,
// from the event or from what the feed knows, else by id alone; never a
// resource name, never an id beside a name.
func TestDescribeNamesPeopleAndProducts(t *testing.T) {
	known := Names{
		User: func(u string) string {
			return map[string]string{"organizations/acme/users/max": "Max Holm", "organizations/acme/users/ada": "Ada Lovelace"}[u]
		},
		Product: func(p string, lang language.Tag) string {
			if p != "products/o365" {
				return ""
			}
			if lang == locale.French {
				return "Office 365 E3 (fr)"
			}
			return "Office 365 E3"
		},
		Subscription: func(s string, lang language.Tag) string {
			return map[string]string{"organizations/acme/subscriptions/s-2": "Visio Plan 2"}[s]
		},
	}
	assigned := &commercev1.Event{Type: commercev1.Event_LICENSES_ASSIGNED, Actor: "organizations/acme/users/max",
		Resource: "organizations/acme/licenses/s-1", Metadata: map[string]string{
			MetaProduct: "products/o365", MetaCount: "2", MetaSubscription: "organizations/acme/subscriptions/s-1",
			MetaUsers: "organizations/acme/users/ada,organizations/acme/users/bob"}}
	withNames := proto.CloneOf(assigned)
	withNames.Metadata[MetaUserDisplayNames] = `["Ada L.","Bob Stone"]`
	old := proto.CloneOf(assigned) // as stored before display names were recorded
	cases := []struct {
		name  string
		e     *commercev1.Event
		lang  language.Tag
		names Names
		want  string
	}{
		{"known", assigned, locale.English, known, "Max Holm assigned 2 licenses of Office 365 E3 to Ada Lovelace, bob."},
		{"known, French", assigned, locale.French, known, "Max Holm a attribué 2 licences de Office 365 E3 (fr) à Ada Lovelace, bob."},
		{"recorded first", withNames, locale.English, known, "Max Holm assigned 2 licenses of Office 365 E3 to Ada L., Bob Stone."},
		{"nothing known", old, locale.English, Names{}, "max assigned 2 licenses of o365 to ada, bob."},
		{"recorded, nothing known", withNames, locale.Swedish, Names{}, "max tilldelade 2 licenser för o365 till Ada L., Bob Stone."},
		{"the event's actor name wins", &commercev1.Event{Type: commercev1.Event_QUANTITY_CHANGED, Actor: "organizations/acme/users/max", ActorDisplayName: "Max H.",
			Resource: "organizations/acme/subscriptions/s-2", Metadata: map[string]string{MetaFrom: "2", MetaTo: "5"}}, locale.English, known,
			"Max H. changed the number of licenses of Visio Plan 2 from 2 to 5."},
		{"take-over target by product", &commercev1.Event{Type: commercev1.Event_SUBSCRIPTION_TAKEN_OVER, Actor: "organizations/acme/users/ada",
			Metadata: map[string]string{MetaProductDisplayName: "Office 365 E3", MetaTarget: "organizations/acme/subscriptions/s-2"}}, locale.English, known,
			"Ada Lovelace took over Office 365 E3 and moved its users to Visio Plan 2."},
		{"take-over target by id", &commercev1.Event{Type: commercev1.Event_SUBSCRIPTION_TAKEN_OVER, Actor: "organizations/acme/users/ada",
			Metadata: map[string]string{MetaProductDisplayName: "Office 365 E3", MetaTarget: "organizations/acme/subscriptions/s-9"}}, locale.English, known,
			"Ada Lovelace took over Office 365 E3 and moved its users to s-9."},
		{"unreadable recorded names", &commercev1.Event{Type: commercev1.Event_LICENSES_UNASSIGNED, Metadata: map[string]string{
			MetaUsers: "organizations/acme/users/max", MetaUserDisplayNames: "not json"}}, locale.English, known,
			"The system unassigned 1 license from Max Holm."},
	}
	for _, c := range cases {
		if got := DescribeNamed(c.e, c.lang, c.names); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

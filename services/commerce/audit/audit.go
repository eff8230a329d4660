// Package audit holds the rules of the organization's audit feed: what a
// recordable event is, and the sentence that describes an event to a reader in
// their language.
package audit

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Resource name patterns.
const (
	OrganizationPattern = names.Organization
	EventPattern        = names.Event
	UserPattern         = names.User
	ProductPattern      = names.Product
	SubscriptionPattern = names.Subscription
)

// Limits of one event, and of one RecordEvents batch.
const (
	MaxBatch            = 500
	MaxResource         = 1000
	MaxActorDisplayName = 256
	MaxMetadata         = 32
	MaxMetadataKey      = 64
	MaxMetadataValue    = 1000
)

// The feed orders events by create_time in unix nanoseconds, unsigned: only
// times from the epoch to 2262 can be ordered.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

// Normalize checks an incoming event and returns a copy ready to store: the
// description is dropped, since the feed writes it in each reader's language.
// field is the event's place in the request ("events[3]"); errors name the
// offending field under it ("events[3].type").
func Normalize(field string, in *commercev1.Event) (*commercev1.Event, error) {
	var org string
	if err := names.ParseInto(field+".name", in.GetName(), EventPattern, &org); err != nil {
		return nil, err
	}
	if _, known := commercev1.Event_Type_name[int32(in.GetType())]; !known || in.GetType() == commercev1.Event_TYPE_UNSPECIFIED {
		return nil, errs.Field(field+".type", "%s.type must be a known event type", field)
	}
	ct := in.GetCreateTime()
	if ct == nil {
		return nil, errs.Field(field+".create_time", "%s.create_time is required", field)
	}
	if err := ct.CheckValid(); err != nil || ct.AsTime().Before(minTime) || ct.AsTime().After(maxTime) {
		return nil, errs.Field(field+".create_time", "%s.create_time must be a valid time from 1970 to 2262", field)
	}
	if a := in.GetActor(); a != "" {
		var of string
		if !names.Scan(a, UserPattern, &of) || of != org {
			return nil, errs.Field(field+".actor", "%s.actor must be empty or a user of %s", field, names.Format(OrganizationPattern, org))
		}
	}
	if !text(in.GetActorDisplayName(), MaxActorDisplayName) {
		return nil, errs.Field(field+".actor_display_name", "%s.actor_display_name must be text of at most %d characters", field, MaxActorDisplayName)
	}
	if utf8.RuneCountInString(in.GetResource()) > MaxResource {
		return nil, errs.Field(field+".resource", "%s.resource must be at most %d characters", field, MaxResource)
	}
	if err := metadata(field+".metadata", in.GetMetadata()); err != nil {
		return nil, err
	}
	out := proto.CloneOf(in)
	out.Description = ""
	return out, nil
}

func metadata(field string, md map[string]string) error {
	if len(md) > MaxMetadata {
		return errs.Field(field, "%s may hold at most %d entries", field, MaxMetadata)
	}
	// Sorted, so that the same bad request always names the same key.
	for _, k := range slices.Sorted(maps.Keys(md)) {
		if k == "" || !text(k, MaxMetadataKey) {
			return errs.Field(field, "%s keys must be 1 to %d characters", field, MaxMetadataKey).With("key", k)
		}
		if utf8.RuneCountInString(md[k]) > MaxMetadataValue {
			return errs.Field(field, "%s values must be at most %d characters", field, MaxMetadataValue).With("key", k)
		}
	}
	return nil
}

// text tells whether s is at most max characters with no control characters.
func text(s string, max int) bool {
	return utf8.ValidString(s) && utf8.RuneCountInString(s) <= max && strings.IndexFunc(s, unicode.IsControl) < 0
}

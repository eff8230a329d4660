package store

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/storage/v1"
)

// A subscription's Meta is written at every change of it, twice per
// purchase, and read as often: it is stored as the private message
// selfserve.commerce.storage.v1.SubscriptionMeta (proto/selfserve/commerce/
// storage), after a format byte. Meta written as JSON before is still read.
const metaWire = 1

// deterministic marshals maps in key order: a meta that did not change
// writes the same bytes.
var deterministic = proto.MarshalOptions{Deterministic: true}

func encodeMeta(m *Meta) ([]byte, error) {
	pm := &storagev1.SubscriptionMeta{
		Version: m.Version, Currency: m.Currency, TrialNeedsPayment: m.TrialNeedsPayment, LastOrder: m.LastOrder,
		Undo: m.Undo, Hidden: m.Hidden, Declined: m.Declined, TakenOver: m.TakenOver,
	}
	var err error
	if pm.Anchor, err = timeBytes(m.Anchor); err != nil {
		return nil, err
	}
	if pm.DisabledAt, err = timeBytes(m.DisabledAt); err != nil {
		return nil, err
	}
	for _, s := range m.Pending {
		ps := &storagev1.Step{
			Kind: string(s.Kind), Key: s.Key, Profile: s.Profile, PastDue: s.PastDue, Order: s.Order, Total: s.Total, State: s.State,
			Version: s.Version, Target: s.Target, Actor: s.Actor, Channel: s.Channel, Product: s.Product, Purchaser: s.Purchaser,
			EventType: s.EventType, ActorName: s.ActorName, Meta: s.Meta,
		}
		for _, l := range s.Lines {
			pl := &storagev1.Line{Type: l.Type, Description: l.Description, Quantity: l.Quantity, Amount: l.Amount, Descriptions: l.Descriptions}
			if pl.Start, err = timeBytes(l.Start); err != nil {
				return nil, err
			}
			if pl.End, err = timeBytes(l.End); err != nil {
				return nil, err
			}
			ps.Lines = append(ps.Lines, pl)
		}
		pm.Pending = append(pm.Pending, ps)
	}
	return deterministic.MarshalAppend([]byte{metaWire}, pm)
}

// metaHidden reads only a stored Meta's Hidden flag: a page of a list needs
// no more of it, and the pending steps are most of its bytes.
func metaHidden(v []byte) (bool, error) {
	if len(v) == 0 || v[0] != metaWire {
		var m Meta
		err := decodeMeta(v, &m)
		return m.Hidden, err
	}
	hidden := false
	for b := v[1:]; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false, fmt.Errorf("subscription meta: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == hiddenField && typ == protowire.VarintType {
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false, fmt.Errorf("subscription meta: %w", protowire.ParseError(n))
			}
			hidden, b = x != 0, b[n:] // the last one counts, as proto.Unmarshal has it
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false, fmt.Errorf("subscription meta: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return hidden, nil
}

var hiddenField = (&storagev1.SubscriptionMeta{}).ProtoReflect().Descriptor().Fields().ByName("hidden").Number()

// decodeMeta reads a stored Meta, in either format.
func decodeMeta(v []byte, m *Meta) error {
	switch {
	case len(v) == 0:
		return nil
	case v[0] == '{':
		return json.Unmarshal(v, m)
	case v[0] != metaWire:
		return fmt.Errorf("subscription meta: unknown format %d", v[0])
	}
	pm := &storagev1.SubscriptionMeta{}
	if err := proto.Unmarshal(v[1:], pm); err != nil {
		return fmt.Errorf("subscription meta: %w", err)
	}
	*m = Meta{
		Version: pm.GetVersion(), Currency: pm.GetCurrency(), TrialNeedsPayment: pm.GetTrialNeedsPayment(), LastOrder: pm.GetLastOrder(),
		Undo: pm.GetUndo(), Hidden: pm.GetHidden(), Declined: pm.GetDeclined(), TakenOver: pm.GetTakenOver(),
	}
	var err error
	if m.Anchor, err = bytesTime(pm.GetAnchor()); err != nil {
		return err
	}
	if m.DisabledAt, err = bytesTime(pm.GetDisabledAt()); err != nil {
		return err
	}
	for _, ps := range pm.GetPending() {
		s := Step{
			Kind: StepKind(ps.GetKind()), Key: ps.GetKey(), Profile: ps.GetProfile(), PastDue: ps.GetPastDue(), Order: ps.GetOrder(),
			Total: ps.GetTotal(), State: ps.GetState(), Version: ps.GetVersion(), Target: ps.GetTarget(), Actor: ps.GetActor(),
			Channel: ps.GetChannel(), Product: ps.GetProduct(), Purchaser: ps.GetPurchaser(), EventType: ps.GetEventType(),
			ActorName: ps.GetActorName(), Meta: nonEmpty(ps.GetMeta()),
		}
		for _, pl := range ps.GetLines() {
			l := Line{Type: pl.GetType(), Description: pl.GetDescription(), Quantity: pl.GetQuantity(), Amount: pl.GetAmount(), Descriptions: nonEmpty(pl.GetDescriptions())}
			if l.Start, err = bytesTime(pl.GetStart()); err != nil {
				return err
			}
			if l.End, err = bytesTime(pl.GetEnd()); err != nil {
				return err
			}
			s.Lines = append(s.Lines, l)
		}
		m.Pending = append(m.Pending, s)
	}
	return nil
}

// nonEmpty is nil for an empty map, as a Meta that had none holds.
func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// timeBytes is a time as the store keeps it: time.Time's binary form, or
// nothing for the zero time.
func timeBytes(t time.Time) ([]byte, error) {
	if t.IsZero() {
		return nil, nil
	}
	return t.MarshalBinary()
}

// bytesTime undoes timeBytes.
func bytesTime(b []byte) (time.Time, error) {
	var t time.Time
	if len(b) == 0 {
		return t, nil
	}
	if err := t.UnmarshalBinary(b); err != nil {
		return t, fmt.Errorf("subscription meta: %w", err)
	}
	return t, nil
}

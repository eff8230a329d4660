package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// A subscription's Meta is written at every change of it, twice per purchase,
// and read as often: it is stored in the protobuf wire format (fields
// numbered below, no .proto: it never leaves the store), after a format
// byte. Meta written as JSON before is still read.
const metaWire = 1

// Field numbers of Meta.
const (
	metaVersion = iota + 1
	metaCurrency
	metaAnchor
	metaTrialNeedsPayment
	metaDisabledAt
	metaLastOrder
	metaPending
	metaUndo
	metaHidden
	metaDeclined
	metaTakenOver
)

// Field numbers of Step.
const (
	stepKind = iota + 1
	stepKey
	stepProfile
	stepLines
	stepPastDue
	stepOrder
	stepTotal
	stepState
	stepVersion
	stepTarget
	stepActor
	stepChannel
	stepProduct
	stepPurchaser
	stepEventType
	stepActorName
	stepMeta
)

// Field numbers of Line.
const (
	lineType = iota + 1
	lineDescription
	lineQuantity
	lineStart
	lineEnd
	lineAmount
	lineDescriptions
)

// Field numbers of an entry of Step.Meta.
const (
	entryKey = iota + 1
	entryValue
)

func encodeMeta(m *Meta) ([]byte, error) {
	b := make([]byte, 1, 256)
	b[0] = metaWire
	b = appendInt(b, metaVersion, m.Version)
	b = appendString(b, metaCurrency, m.Currency)
	b, err := appendTime(b, metaAnchor, m.Anchor)
	if err != nil {
		return nil, err
	}
	b = appendBool(b, metaTrialNeedsPayment, m.TrialNeedsPayment)
	if b, err = appendTime(b, metaDisabledAt, m.DisabledAt); err != nil {
		return nil, err
	}
	b = appendUint(b, metaLastOrder, m.LastOrder)
	for i := range m.Pending {
		step, err := encodeStep(&m.Pending[i])
		if err != nil {
			return nil, err
		}
		b = protowire.AppendTag(b, metaPending, protowire.BytesType)
		b = protowire.AppendBytes(b, step)
	}
	if m.Undo != nil {
		b = protowire.AppendTag(b, metaUndo, protowire.BytesType)
		b = protowire.AppendBytes(b, m.Undo)
	}
	b = appendBool(b, metaHidden, m.Hidden)
	b = appendString(b, metaDeclined, m.Declined)
	b = appendString(b, metaTakenOver, m.TakenOver)
	return b, nil
}

func encodeStep(s *Step) ([]byte, error) {
	b := make([]byte, 0, 128)
	b = appendString(b, stepKind, string(s.Kind))
	b = appendString(b, stepKey, s.Key)
	b = appendString(b, stepProfile, s.Profile)
	for i := range s.Lines {
		line, err := encodeLine(&s.Lines[i])
		if err != nil {
			return nil, err
		}
		b = protowire.AppendTag(b, stepLines, protowire.BytesType)
		b = protowire.AppendBytes(b, line)
	}
	b = appendBool(b, stepPastDue, s.PastDue)
	b = appendUint(b, stepOrder, s.Order)
	b = appendInt(b, stepTotal, int64(s.Total))
	b = appendInt(b, stepState, int64(s.State))
	b = appendInt(b, stepVersion, s.Version)
	b = appendString(b, stepTarget, s.Target)
	b = appendString(b, stepActor, s.Actor)
	b = appendInt(b, stepChannel, int64(s.Channel))
	b = appendString(b, stepProduct, s.Product)
	b = appendString(b, stepPurchaser, s.Purchaser)
	b = appendInt(b, stepEventType, int64(s.EventType))
	b = appendString(b, stepActorName, s.ActorName)
	return appendStringMap(b, stepMeta, s.Meta), nil
}

func encodeLine(l *Line) ([]byte, error) {
	b := make([]byte, 0, 96)
	b = appendInt(b, lineType, int64(l.Type))
	b = appendString(b, lineDescription, l.Description)
	b = appendInt(b, lineQuantity, int64(l.Quantity))
	b, err := appendTime(b, lineStart, l.Start)
	if err != nil {
		return nil, err
	}
	if b, err = appendTime(b, lineEnd, l.End); err != nil {
		return nil, err
	}
	b = appendInt(b, lineAmount, l.Amount)
	return appendStringMap(b, lineDescriptions, l.Descriptions), nil
}

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
	return fields(v[1:], func(num protowire.Number, f field) error {
		var err error
		switch num {
		case metaVersion:
			m.Version, err = f.int()
		case metaCurrency:
			m.Currency, err = f.string()
		case metaAnchor:
			m.Anchor, err = f.time()
		case metaTrialNeedsPayment:
			m.TrialNeedsPayment, err = f.bool()
		case metaDisabledAt:
			m.DisabledAt, err = f.time()
		case metaLastOrder:
			m.LastOrder, err = f.uint()
		case metaPending:
			var raw []byte
			if raw, err = f.bytes(); err == nil {
				m.Pending = append(m.Pending, Step{})
				err = decodeStep(raw, &m.Pending[len(m.Pending)-1])
			}
		case metaUndo:
			var raw []byte
			if raw, err = f.bytes(); err == nil {
				m.Undo = append([]byte{}, raw...)
			}
		case metaHidden:
			m.Hidden, err = f.bool()
		case metaDeclined:
			m.Declined, err = f.string()
		case metaTakenOver:
			m.TakenOver, err = f.string()
		}
		return err
	})
}

func decodeStep(v []byte, s *Step) error {
	return fields(v, func(num protowire.Number, f field) error {
		var err error
		var n int64
		switch num {
		case stepKind:
			var k string
			k, err = f.string()
			s.Kind = StepKind(k)
		case stepKey:
			s.Key, err = f.string()
		case stepProfile:
			s.Profile, err = f.string()
		case stepLines:
			var raw []byte
			if raw, err = f.bytes(); err == nil {
				s.Lines = append(s.Lines, Line{})
				err = decodeLine(raw, &s.Lines[len(s.Lines)-1])
			}
		case stepPastDue:
			s.PastDue, err = f.bool()
		case stepOrder:
			s.Order, err = f.uint()
		case stepTotal:
			n, err = f.int()
			s.Total = int32(n)
		case stepState:
			n, err = f.int()
			s.State = int32(n)
		case stepVersion:
			s.Version, err = f.int()
		case stepTarget:
			s.Target, err = f.string()
		case stepActor:
			s.Actor, err = f.string()
		case stepChannel:
			n, err = f.int()
			s.Channel = int32(n)
		case stepProduct:
			s.Product, err = f.string()
		case stepPurchaser:
			s.Purchaser, err = f.string()
		case stepEventType:
			n, err = f.int()
			s.EventType = int32(n)
		case stepActorName:
			s.ActorName, err = f.string()
		case stepMeta:
			err = f.mapEntry(&s.Meta)
		}
		return err
	})
}

func decodeLine(v []byte, l *Line) error {
	return fields(v, func(num protowire.Number, f field) error {
		var err error
		var n int64
		switch num {
		case lineType:
			n, err = f.int()
			l.Type = int32(n)
		case lineDescription:
			l.Description, err = f.string()
		case lineQuantity:
			n, err = f.int()
			l.Quantity = int32(n)
		case lineStart:
			l.Start, err = f.time()
		case lineEnd:
			l.End, err = f.time()
		case lineAmount:
			l.Amount, err = f.int()
		case lineDescriptions:
			err = f.mapEntry(&l.Descriptions)
		}
		return err
	})
}

// Zero values are left out, as proto3 does. Signed numbers are zigzag
// varints; times are time.Time's own binary form.

func appendInt(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, protowire.EncodeZigZag(v))
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBool(b []byte, num protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

func appendString(b []byte, num protowire.Number, v string) []byte {
	if v == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

// appendStringMap writes a map as proto does: an entry message per key, in
// key order.
func appendStringMap(b []byte, num protowire.Number, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var e []byte
		e = protowire.AppendTag(e, entryKey, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = protowire.AppendTag(e, entryValue, protowire.BytesType)
		e = protowire.AppendString(e, m[k])
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	return b
}

func appendTime(b []byte, num protowire.Number, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return b, nil
	}
	v, err := t.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v), nil
}

var errMalformed = errors.New("subscription meta: malformed")

// field is one field's value as read from the wire.
type field struct {
	typ protowire.Type
	v   uint64 // a varint
	b   []byte // a length-delimited value
}

// fields calls fn for every field of a message, in order; fields of a type
// other than varint or bytes are skipped.
func fields(v []byte, fn func(protowire.Number, field) error) error {
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return errMalformed
		}
		v = v[n:]
		f := field{typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(v)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(v)
		default:
			n = protowire.ConsumeFieldValue(num, typ, v)
		}
		if n < 0 {
			return errMalformed
		}
		v = v[n:]
		if typ != protowire.VarintType && typ != protowire.BytesType {
			continue
		}
		if err := fn(num, f); err != nil {
			return err
		}
	}
	return nil
}

func (f field) int() (int64, error) {
	if f.typ != protowire.VarintType {
		return 0, errMalformed
	}
	return protowire.DecodeZigZag(f.v), nil
}

func (f field) uint() (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, errMalformed
	}
	return f.v, nil
}

func (f field) bool() (bool, error) {
	if f.typ != protowire.VarintType {
		return false, errMalformed
	}
	return f.v != 0, nil
}

func (f field) bytes() ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, errMalformed
	}
	return f.b, nil
}

func (f field) string() (string, error) {
	b, err := f.bytes()
	return string(b), err
}

// mapEntry adds the map entry f holds to *m.
func (f field) mapEntry(m *map[string]string) error {
	raw, err := f.bytes()
	if err != nil {
		return err
	}
	var k, v string
	if err := fields(raw, func(num protowire.Number, f field) (err error) {
		switch num {
		case entryKey:
			k, err = f.string()
		case entryValue:
			v, err = f.string()
		}
		return err
	}); err != nil {
		return err
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
	return nil
}

func (f field) time() (time.Time, error) {
	b, err := f.bytes()
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	return t, t.UnmarshalBinary(b)
}

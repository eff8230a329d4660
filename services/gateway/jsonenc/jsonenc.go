// Package jsonenc writes a protobuf message as proto3 JSON, byte for byte as
// protojson.MarshalOptions{EmitUnpopulated: true} does (lowerCamel names,
// every field in declaration order, unset messages as null, unset oneof
// members left out, 64-bit integers as strings, enums by name, Timestamp,
// Duration and FieldMask in their string forms), but without protojson's
// per-message costs: no sort of the fields, no wrapper ranger, names quoted
// once per message type.
//
// The one difference is on purpose: protojson adds, in some builds, a space
// after each comma to keep callers from depending on its bytes; Marshal's
// output is the compact form with none.
//
// Messages it does not know how to write faster (Any, Struct, Value,
// ListValue, proto2 required fields, extensions), and every message it finds
// invalid (a Timestamp out of range, a string that is not UTF-8), go to
// protojson itself, so the output and the errors stay protojson's.
package jsonenc

import (
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Options are protojson's options this encoder reproduces.
var Options = protojson.MarshalOptions{EmitUnpopulated: true}

// errFallback means: let protojson write this message.
var errFallback = errors.New("jsonenc: protojson writes this message")

// Marshal writes m as Options.Marshal would.
func Marshal(m proto.Message) ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf, err := appendMessage((*bp)[:0], m.ProtoReflect())
	*bp = buf[:0]
	if err != nil {
		return Options.Marshal(m)
	}
	return slices.Clone(buf), nil
}

// AppendMessage appends m to b; on any error b is returned unchanged with
// the error, and the caller may use protojson instead.
func AppendMessage(b []byte, m proto.Message) ([]byte, error) {
	out, err := appendMessage(b, m.ProtoReflect())
	if err != nil {
		return b, err
	}
	return out, nil
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// wkt tells the messages written in a form of their own.
type wkt uint8

const (
	plainMessage wkt = iota
	timestampMessage
	durationMessage
	fieldMaskMessage
	wrapperMessage
	emptyMessage
	protojsonMessage // Any, Struct, Value, ListValue, proto2 required, extensions
)

// plan is what writing one message type needs, worked out once.
type plan struct {
	kind   wkt
	fields []field
}

type field struct {
	fd protoreflect.FieldDescriptor
	// name is `"jsonName":`.
	name []byte
	// oneof: an unset member is left out; presence: an unset field is null.
	oneof, presence bool
	list, isMap     bool
	// enum holds the quoted value names by number (nil: not an enum).
	enum map[protoreflect.EnumNumber][]byte
	// null is true for google.protobuf.NullValue, always written as null.
	null bool
	// sub is the plan of the field's message type, found on first use (a
	// message field's type may be its own message's: no plan at build time).
	sub atomic.Pointer[plan]
}

var plans sync.Map // protoreflect.FullName → *plan

func planOf(md protoreflect.MessageDescriptor) *plan {
	if p, ok := plans.Load(md.FullName()); ok {
		return p.(*plan)
	}
	p, _ := plans.LoadOrStore(md.FullName(), newPlan(md))
	return p.(*plan)
}

func newPlan(md protoreflect.MessageDescriptor) *plan {
	p := &plan{kind: kindOf(md)}
	if p.kind != plainMessage {
		return p
	}
	if md.ExtensionRanges().Len() > 0 || md.IsMapEntry() {
		p.kind = protojsonMessage
		return p
	}
	fds := md.Fields()
	p.fields = make([]field, fds.Len())
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.Cardinality() == protoreflect.Required {
			return &plan{kind: protojsonMessage}
		}
		f := &p.fields[i]
		f.fd, f.oneof, f.presence, f.list, f.isMap = fd, fd.ContainingOneof() != nil, fd.HasPresence(), fd.IsList(), fd.IsMap()
		name, _ := appendString(nil, fd.JSONName())
		f.name = append(name, ':')
		vd := fd
		if f.isMap {
			vd = fd.MapValue()
		}
		if vd.Kind() == protoreflect.EnumKind {
			if vd.Enum().FullName() == "google.protobuf.NullValue" {
				f.null = true
			} else {
				vals := vd.Enum().Values()
				f.enum = make(map[protoreflect.EnumNumber][]byte, vals.Len())
				for j := range vals.Len() {
					v := vals.Get(j)
					if _, seen := f.enum[v.Number()]; !seen { // aliases: the first name, as ByNumber gives
						f.enum[v.Number()], _ = appendString(nil, string(v.Name()))
					}
				}
			}
		}
	}
	return p
}

func kindOf(md protoreflect.MessageDescriptor) wkt {
	if md.FullName().Parent() != "google.protobuf" {
		return plainMessage
	}
	switch md.Name() {
	case "Timestamp":
		return timestampMessage
	case "Duration":
		return durationMessage
	case "FieldMask":
		return fieldMaskMessage
	case "Empty":
		return emptyMessage
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return wrapperMessage
	case "Any", "Struct", "Value", "ListValue":
		return protojsonMessage
	}
	return plainMessage
}

func appendMessage(b []byte, m protoreflect.Message) ([]byte, error) {
	return appendPlanned(b, m, planOf(m.Descriptor()))
}

// subPlan is the plan of a message value of f (f nil: looked up).
func subPlan(m protoreflect.Message, f *field) *plan {
	if f == nil {
		return planOf(m.Descriptor())
	}
	if p := f.sub.Load(); p != nil {
		return p
	}
	p := planOf(m.Descriptor())
	f.sub.Store(p)
	return p
}

func appendPlanned(b []byte, m protoreflect.Message, p *plan) ([]byte, error) {
	switch p.kind {
	case timestampMessage:
		return appendTimestamp(b, m)
	case durationMessage:
		return appendDuration(b, m)
	case fieldMaskMessage:
		return appendFieldMask(b, m)
	case wrapperMessage:
		fd := m.Descriptor().Fields().ByNumber(1)
		return appendScalar(b, m.Get(fd), fd, nil)
	case emptyMessage:
		return append(b, '{', '}'), nil
	case protojsonMessage:
		return b, errFallback
	}
	b = append(b, '{')
	first := true
	var err error
	for i := range p.fields {
		f := &p.fields[i]
		if (f.oneof || f.presence) && !m.Has(f.fd) {
			if f.oneof {
				continue
			}
			b = appendName(b, f, first)
			b = append(b, "null"...)
			first = false
			continue
		}
		b = appendName(b, f, first)
		first = false
		v := m.Get(f.fd)
		switch {
		case f.list:
			b, err = appendList(b, v.List(), f)
		case f.isMap:
			b, err = appendMap(b, v.Map(), f)
		default:
			b, err = appendScalar(b, v, f.fd, f)
		}
		if err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendName writes the field's name, after a comma when a field came
// before it.
func appendName(b []byte, f *field, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	return append(b, f.name...)
}

func appendList(b []byte, l protoreflect.List, f *field) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i := range l.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendScalar(b, l.Get(i), f.fd, f); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func appendMap(b []byte, mp protoreflect.Map, f *field) ([]byte, error) {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, compareKeys)
	b = append(b, '{')
	vd := f.fd.MapValue()
	var err error
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendString(b, k.String()); err != nil {
			return b, err
		}
		b = append(b, ':')
		if b, err = appendScalar(b, mp.Get(k), vd, f); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// compareKeys orders map keys as protojson does: false before true, numbers
// ascending, strings by their bytes.
func compareKeys(x, y protoreflect.MapKey) int {
	switch xv := x.Interface().(type) {
	case bool:
		switch {
		case xv == y.Bool():
			return 0
		case !xv:
			return -1
		}
		return 1
	case int32, int64:
		return cmpOrdered(x.Int(), y.Int())
	case uint32, uint64:
		return cmpOrdered(x.Uint(), y.Uint())
	}
	return cmpOrdered(x.String(), y.String())
}

func cmpOrdered[T int64 | uint64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendScalar writes one value of fd's kind (an item of a list or a map
// value when fd is one). f carries the enum names; nil looks them up.
func appendScalar(b []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor, f *field) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
	case protoreflect.StringKind:
		return appendString(b, v.String())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendInt(b, v.Int(), 10), '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendUint(b, v.Uint(), 10), '"'), nil
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64), nil
	case protoreflect.BytesKind:
		b = append(b, '"')
		return append(base64.StdEncoding.AppendEncode(b, v.Bytes()), '"'), nil
	case protoreflect.EnumKind:
		return appendEnum(b, v.Enum(), fd, f), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := v.Message()
		return appendPlanned(b, m, subPlan(m, f))
	}
	return b, errFallback
}

func appendEnum(b []byte, n protoreflect.EnumNumber, fd protoreflect.FieldDescriptor, f *field) []byte {
	if f != nil && f.null {
		return append(b, "null"...)
	}
	if f != nil && f.enum != nil {
		if name, ok := f.enum[n]; ok {
			return append(b, name...)
		}
		return strconv.AppendInt(b, int64(n), 10)
	}
	if fd.Enum().FullName() == "google.protobuf.NullValue" {
		return append(b, "null"...)
	}
	if d := fd.Enum().Values().ByNumber(n); d != nil {
		b, _ = appendString(b, string(d.Name()))
		return b
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// appendString quotes s as protojson does: ", \ and the control characters
// escaped (\b \f \n \r \t by letter, the rest as \u00xx), everything else,
// U+2028 and U+2029 included, as it is; invalid UTF-8 is an error.
func appendString(b []byte, s string) ([]byte, error) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return b, errFallback
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

// appendFloat is protojson's number form: NaN and the infinities as
// strings, exponents only below 1e-6 and from 1e21 on, as encoding/json.
func appendFloat(b []byte, n float64, bits int) []byte {
	switch {
	case math.IsNaN(n):
		return append(b, `"NaN"`...)
	case math.IsInf(n, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, n, format, -1, bits)
	if format == 'e' {
		// e-07 → e-7, as encoding/json writes it.
		if k := len(b); k >= 4 && b[k-4] == 'e' && b[k-3] == '-' && b[k-2] == '0' {
			b[k-2] = b[k-1]
			b = b[:k-1]
		}
	}
	return b
}

const (
	minTimestamp = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestamp = 253402300799 // 9999-12-31T23:59:59Z
	maxDuration  = 315576000000
	maxNanos     = 999999999
)

func secondsAndNanos(m protoreflect.Message) (int64, int64) {
	fds := m.Descriptor().Fields()
	return m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int()
}

// appendTimestamp writes RFC 3339 in UTC with 0, 3, 6 or 9 fractional
// digits, as protojson does.
func appendTimestamp(b []byte, m protoreflect.Message) ([]byte, error) {
	secs, nanos := secondsAndNanos(m)
	if secs < minTimestamp || secs > maxTimestamp || nanos < 0 || nanos > maxNanos {
		return b, errFallback
	}
	t := time.Unix(secs, nanos).UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = appendFraction(b, nanos)
	return append(b, 'Z', '"'), nil
}

// appendDuration writes seconds with 0, 3, 6 or 9 fractional digits and the
// suffix s, as protojson does.
func appendDuration(b []byte, m protoreflect.Message) ([]byte, error) {
	secs, nanos := secondsAndNanos(m)
	if secs < -maxDuration || secs > maxDuration || nanos < -maxNanos || nanos > maxNanos ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return b, errFallback
	}
	b = append(b, '"')
	if secs < 0 || nanos < 0 {
		b = append(b, '-')
		secs, nanos = -secs, -nanos
	}
	b = strconv.AppendInt(b, secs, 10)
	b = appendFraction(b, nanos)
	return append(b, 's', '"'), nil
}

func appendFraction(b []byte, nanos int64) []byte {
	switch {
	case nanos == 0:
		return b
	case nanos%1_000_000 == 0:
		return appendDigits(append(b, '.'), int(nanos/1_000_000), 3)
	case nanos%1_000 == 0:
		return appendDigits(append(b, '.'), int(nanos/1_000), 6)
	}
	return appendDigits(append(b, '.'), int(nanos), 9)
}

// appendDigits writes n (≥ 0) with at least width digits.
func appendDigits(b []byte, n, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n >= 10 || width > 1 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	tmp[i] = byte('0' + n)
	return append(b, tmp[i:]...)
}

// appendFieldMask writes the paths in lowerCamel, joined by commas; a path
// that would not come back the same way goes to protojson (its error).
func appendFieldMask(b []byte, m protoreflect.Message) ([]byte, error) {
	l := m.Get(m.Descriptor().Fields().ByNumber(1)).List()
	b = append(b, '"')
	for i := range l.Len() {
		s := l.Get(i).String()
		if !protoreflect.FullName(s).IsValid() {
			return b, errFallback
		}
		if i > 0 {
			b = append(b, ',')
		}
		start := len(b)
		upper := false
		for j := 0; j < len(s); j++ {
			c := s[j]
			if c == '_' {
				upper = true
				continue
			}
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			upper = false
			b = append(b, c)
		}
		if !reversible(s, b[start:]) {
			return b, errFallback
		}
	}
	// Paths are identifiers and dots: nothing in them needs escaping.
	return append(b, '"'), nil
}

// reversible tells that snake_case(camel) == s, as protojson requires.
func reversible(s string, camel []byte) bool {
	i := 0
	for _, c := range camel {
		if 'A' <= c && c <= 'Z' {
			if i >= len(s) || s[i] != '_' {
				return false
			}
			i++
			c += 'a' - 'A'
		}
		if i >= len(s) || s[i] != c {
			return false
		}
		i++
	}
	return i == len(s)
}

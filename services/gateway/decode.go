package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/selfserve/selfserve/services/gateway/jsonenc"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// bodyCodec is the proto3 JSON marshaler whose decoder explains what is wrong
// with a request body the way a JSON caller wrote it: INVALID_JSON for what
// is not JSON, INVALID_FIELD with the field's path (and, for an enum, the
// values it takes) for JSON that does not fit the message. protojson's own
// text names Go and protobuf internals; it never reaches a client.
type bodyCodec struct {
	*runtime.JSONPb
}

// Marshal writes a message with jsonenc: protojson's bytes (EmitUnpopulated,
// as jsonMarshaler sets) at a fifth of its CPU. Anything else is the
// runtime's.
func (c bodyCodec) Marshal(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok && c.MarshalOptions == jsonenc.Options {
		return jsonenc.Marshal(m)
	}
	return c.JSONPb.Marshal(v)
}

func (c bodyCodec) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error { return c.decode(r, v) })
}

// decode reads one JSON value from r into v: the request message itself
// (body "*") or a pointer to its body field (body "billing_profile"), as the
// generated handlers pass them.
func (c bodyCodec) decode(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err // a cut body: handleError tells it by the context
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return io.EOF // no body: the handlers take it as an empty message
	}
	msg, prefix := target(v)
	if msg == nil {
		return runtime.DecoderWrapper{Decoder: json.NewDecoder(bytes.NewReader(data)), UnmarshalOptions: c.UnmarshalOptions}.Decode(v)
	}
	if e := checkSyntax(data); e != nil {
		return bodyError{e}
	}
	if err := c.UnmarshalOptions.Unmarshal(data, msg); err != nil {
		proto.Reset(msg)
		return bodyError{diagnose(data, msg.ProtoReflect().Descriptor(), prefix)}
	}
	return nil
}

var protoMessage = reflect.TypeFor[proto.Message]()

// target is the message v decodes into, and the JSON name of the request
// field it is ("" for the whole request).
func target(v any) (proto.Message, string) {
	if m, ok := v.(proto.Message); ok {
		return m, ""
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Pointer || !rv.Elem().Type().Implements(protoMessage) {
		return nil, ""
	}
	if rv.Elem().IsNil() {
		rv.Elem().Set(reflect.New(rv.Elem().Type().Elem()))
	}
	m := rv.Elem().Interface().(proto.Message)
	return m, bodyFields()[m.ProtoReflect().Descriptor().FullName()]
}

// checkSyntax refuses what is not one JSON value of valid UTF-8.
func checkSyntax(data []byte) *errs.Error {
	if !utf8.Valid(data) {
		return errs.New(errs.InvalidJSON, "the body is not valid UTF-8")
	}
	if json.Valid(data) {
		return nil // the common case, without the decoder's copies
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return syntaxError(err, len(data))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.New(errs.InvalidJSON, "the body holds more than one JSON value (from byte %d)", dec.InputOffset()).
			With("offset", strconv.FormatInt(dec.InputOffset(), 10))
	}
	return nil
}

func syntaxError(err error, size int) *errs.Error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return errs.New(errs.InvalidJSON, "the body is not valid JSON: unexpected character at byte %d", syn.Offset).
			With("offset", strconv.FormatInt(syn.Offset, 10))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.New(errs.InvalidJSON, "the body is not valid JSON: it ends at byte %d before the value does", size).
			With("offset", strconv.Itoa(size))
	}
	return errs.New(errs.InvalidJSON, "the body is not valid JSON")
}

// bodyError carries a decode error through the generated handlers, which
// keep only an error's text (status.Errorf("%v", err)): the text is the
// error itself, encoded, and handleError decodes it again.
type bodyError struct{ e *errs.Error }

// bodyErrorMark starts the text of a bodyError; no other error text can.
const bodyErrorMark = "\x00selfserve-body-error\x00"

type encodedError struct {
	Reason   string            `json:"r"`
	Message  string            `json:"m"`
	Metadata map[string]string `json:"d,omitempty"`
}

func (b bodyError) Error() string {
	out, _ := json.Marshal(encodedError{b.e.Reason.Name, b.e.Message, b.e.Metadata})
	return bodyErrorMark + string(out)
}

// decodedBodyError finds a bodyError in the message of a status.
func decodedBodyError(message string) (*errs.Error, bool) {
	i := strings.Index(message, bodyErrorMark)
	if i < 0 {
		return nil, false
	}
	var enc encodedError
	if json.Unmarshal([]byte(message[i+len(bodyErrorMark):]), &enc) != nil {
		return nil, false
	}
	reason := errs.InvalidField
	if enc.Reason == errs.InvalidJSON.Name {
		reason = errs.InvalidJSON
	}
	e := errs.New(reason, "%s", enc.Message)
	for k, v := range enc.Metadata {
		e = e.With(k, v)
	}
	return e, true
}

// diagnose walks data alongside md to find, as a client would put it, why
// protojson refused it.
func diagnose(data []byte, md protoreflect.MessageDescriptor, prefix string) *errs.Error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &walker{dec: dec}
	tok, err := w.next()
	if err == nil {
		err = w.message(md, prefix, tok)
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	if err != nil {
		return syntaxError(err, len(data))
	}
	return errs.New(errs.InvalidJSON, "the body does not fit the request")
}

type walker struct{ dec *json.Decoder }

func (w *walker) next() (json.Token, error) { return w.dec.Token() }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldError(path, format string, args ...any) *errs.Error {
	return errs.Field(path, "%s "+format, append([]any{path}, args...)...)
}

// message checks one JSON value (tok is its first token) against md.
func (w *walker) message(md protoreflect.MessageDescriptor, path string, tok json.Token) error {
	if wkt, ok := wellKnown[md.FullName()]; ok {
		return wkt(w, md, path, tok)
	}
	if tok != json.Delim('{') {
		w.skip(tok)
		return fieldError(path, "must be an object")
	}
	seen := map[protoreflect.Name]string{}
	oneofs := map[protoreflect.FullName]string{}
	for w.dec.More() {
		kt, err := w.next()
		if err != nil {
			return err
		}
		key, _ := kt.(string)
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByTextName(key)
		}
		if fd == nil {
			return unknownField(md, join(path, key), key)
		}
		if other, dup := seen[fd.Name()]; dup {
			return fieldError(join(path, key), "is given twice (also as %q)", other)
		}
		seen[fd.Name()] = key
		vt, err := w.next()
		if err != nil {
			return err
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && vt != nil {
			if other, set := oneofs[od.FullName()]; set {
				return fieldError(join(path, key), "cannot be given with %s: only one of them may be set", join(path, other))
			}
			oneofs[od.FullName()] = key
		}
		if err := w.field(fd, join(path, key), vt); err != nil {
			return err
		}
	}
	_, err := w.next() // '}'
	return err
}

func unknownField(md protoreflect.MessageDescriptor, path, key string) error {
	var known []string
	for i := range md.Fields().Len() {
		known = append(known, md.Fields().Get(i).JSONName())
	}
	return errs.Field(path, "%s is not a field of %s; its fields are %s", path, md.Name(), strings.Join(known, ", ")).
		With("unknown_field", key)
}

// field checks the value of one field: a list, a map or a single value.
func (w *walker) field(fd protoreflect.FieldDescriptor, path string, tok json.Token) error {
	switch {
	case tok == nil:
		return nil // null leaves a field unset
	case fd.IsList():
		if tok != json.Delim('[') {
			w.skip(tok)
			return fieldError(path, "must be an array")
		}
		for i := 0; w.dec.More(); i++ {
			et, err := w.next()
			if err != nil {
				return err
			}
			if err := w.single(fd, fmt.Sprintf("%s[%d]", path, i), et, true); err != nil {
				return err
			}
		}
		_, err := w.next()
		return err
	case fd.IsMap():
		if tok != json.Delim('{') {
			w.skip(tok)
			return fieldError(path, "must be an object")
		}
		for w.dec.More() {
			kt, err := w.next()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			if err := checkMapKey(fd.MapKey().Kind(), path, key); err != nil {
				return err
			}
			vt, err := w.next()
			if err != nil {
				return err
			}
			if err := w.single(fd.MapValue(), fmt.Sprintf("%s[%q]", path, key), vt, true); err != nil {
				return err
			}
		}
		_, err := w.next()
		return err
	}
	return w.single(fd, path, tok, false)
}

// single checks one value of fd's type; an element of a list or map may not
// be null (but a google.protobuf.Value may).
func (w *walker) single(fd protoreflect.FieldDescriptor, path string, tok json.Token, element bool) error {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if tok == nil && element && fd.Message().FullName() != "google.protobuf.Value" {
			return fieldError(path, "must not be null")
		}
		if tok == nil {
			return nil
		}
		return w.message(fd.Message(), path, tok)
	case protoreflect.EnumKind:
		return enumValue(fd.Enum(), path, tok, element)
	}
	if tok == nil {
		if element {
			return fieldError(path, "must not be null")
		}
		return nil
	}
	if d, ok := tok.(json.Delim); ok {
		w.skip(d)
	}
	return scalar(fd.Kind(), path, tok)
}

func enumValue(ed protoreflect.EnumDescriptor, path string, tok json.Token, element bool) error {
	if ed.FullName() == "google.protobuf.NullValue" && tok == nil {
		return nil
	}
	allowed := enumNames(ed)
	bad := func(format string, args ...any) error {
		return fieldError(path, format, args...).With("allowed", strings.Join(allowed, ","))
	}
	switch t := tok.(type) {
	case nil:
		if element {
			return bad("must be one of %s, not null", strings.Join(allowed, ", "))
		}
		return nil
	case string:
		if ed.Values().ByName(protoreflect.Name(t)) == nil {
			return bad("must be one of %s, not %q", strings.Join(allowed, ", "), t)
		}
		return nil
	case json.Number:
		if _, err := strconv.ParseInt(t.String(), 10, 32); err != nil {
			return bad("must be one of %s, not %s", strings.Join(allowed, ", "), t)
		}
		return nil
	}
	return bad("must be one of %s, as a string", strings.Join(allowed, ", "))
}

// enumNames are the values a client may send: all but the zero
// *_UNSPECIFIED one, which means "not set".
func enumNames(ed protoreflect.EnumDescriptor) []string {
	var out []string
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		if v.Number() == 0 && strings.HasSuffix(string(v.Name()), "_UNSPECIFIED") {
			continue
		}
		out = append(out, string(v.Name()))
	}
	return out
}

// scalar checks a number, string, bool or bytes value by the proto3 JSON
// mapping: 64-bit integers and floats may also come as strings.
func scalar(kind protoreflect.Kind, path string, tok json.Token) error {
	switch kind {
	case protoreflect.BoolKind:
		if _, ok := tok.(bool); !ok {
			return fieldError(path, "must be true or false")
		}
	case protoreflect.StringKind:
		if _, ok := tok.(string); !ok {
			return fieldError(path, "must be a string")
		}
	case protoreflect.BytesKind:
		s, ok := tok.(string)
		if !ok || !isBase64(s) {
			return fieldError(path, "must be a base64 string")
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return floatValue(kind, path, tok)
	default:
		return intValue(kind, path, tok)
	}
	return nil
}

func numberText(tok json.Token) (string, bool) {
	switch t := tok.(type) {
	case json.Number:
		return t.String(), true
	case string:
		return t, true
	}
	return "", false
}

func intValue(kind protoreflect.Kind, path string, tok json.Token) error {
	s, ok := numberText(tok)
	if !ok {
		return fieldError(path, "must be an integer")
	}
	var lo, hi float64
	var name string
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		lo, hi, name = math.MinInt32, math.MaxInt32, "a 32-bit integer"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		lo, hi, name = 0, math.MaxUint32, "an unsigned 32-bit integer"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if _, err := strconv.ParseUint(s, 10, 64); err == nil {
			return nil
		}
		lo, hi, name = 0, math.MaxUint64, "an unsigned 64-bit integer"
	default:
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return nil
		}
		lo, hi, name = math.MinInt64, math.MaxInt64, "a 64-bit integer"
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange), f != math.Trunc(f), s != strings.TrimSpace(s):
		return fieldError(path, "must be %s, not %s", name, quoteIfString(tok))
	case f < lo || f > hi || errors.Is(err, strconv.ErrRange):
		return fieldError(path, "must be %s: %s is out of range", name, quoteIfString(tok))
	}
	return nil
}

func floatValue(kind protoreflect.Kind, path string, tok json.Token) error {
	s, ok := numberText(tok)
	if !ok {
		return fieldError(path, "must be a number")
	}
	if _, isString := tok.(string); isString && (s == "NaN" || s == "Infinity" || s == "-Infinity") {
		return nil
	}
	bits := 64
	if kind == protoreflect.FloatKind {
		bits = 32
	}
	if _, err := strconv.ParseFloat(s, bits); err != nil || s != strings.TrimSpace(s) {
		return fieldError(path, "must be a number, not %s", quoteIfString(tok))
	}
	return nil
}

func quoteIfString(tok json.Token) string {
	if s, ok := tok.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(tok)
}

func isBase64(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}

func checkMapKey(kind protoreflect.Kind, path, key string) error {
	var err error
	switch kind {
	case protoreflect.BoolKind:
		if key != "true" && key != "false" {
			err = errors.New("bool")
		}
	case protoreflect.StringKind:
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		_, err = strconv.ParseUint(key, 10, 32)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		_, err = strconv.ParseUint(key, 10, 64)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		_, err = strconv.ParseInt(key, 10, 32)
	default:
		_, err = strconv.ParseInt(key, 10, 64)
	}
	if err != nil {
		return fieldError(path, "has a key %q that is not a %s", key, kind)
	}
	return nil
}

// skip reads past the rest of a value whose first token is tok.
func (w *walker) skip(tok json.Token) {
	d, ok := tok.(json.Delim)
	if !ok || d == '}' || d == ']' {
		return
	}
	for depth := 1; depth > 0; {
		t, err := w.next()
		if err != nil {
			return
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// wellKnown checks the well-known types that have a JSON form of their own.
var wellKnown = map[protoreflect.FullName]func(*walker, protoreflect.MessageDescriptor, string, json.Token) error{
	"google.protobuf.Timestamp": func(w *walker, _ protoreflect.MessageDescriptor, path string, tok json.Token) error {
		s, ok := tok.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); !ok || err != nil {
			w.skip(tok)
			return fieldError(path, "must be an RFC 3339 time such as \"2026-12-06T10:00:00Z\"")
		}
		return nil
	},
	"google.protobuf.Duration": func(w *walker, _ protoreflect.MessageDescriptor, path string, tok json.Token) error {
		s, ok := tok.(string)
		if !ok || !strings.HasSuffix(s, "s") {
			w.skip(tok)
			return fieldError(path, "must be a duration in seconds such as \"3.5s\"")
		}
		if _, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64); err != nil {
			return fieldError(path, "must be a duration in seconds such as \"3.5s\"")
		}
		return nil
	},
	"google.protobuf.FieldMask": func(w *walker, _ protoreflect.MessageDescriptor, path string, tok json.Token) error {
		if _, ok := tok.(string); !ok {
			w.skip(tok)
			return fieldError(path, "must be a string of comma-separated field paths")
		}
		return nil
	},
	"google.protobuf.Struct":    object,
	"google.protobuf.Any":       object,
	"google.protobuf.Empty":     object,
	"google.protobuf.ListValue": array,
	"google.protobuf.Value": func(w *walker, _ protoreflect.MessageDescriptor, _ string, tok json.Token) error {
		w.skip(tok)
		return nil
	},
	"google.protobuf.DoubleValue": wrapper,
	"google.protobuf.FloatValue":  wrapper,
	"google.protobuf.Int64Value":  wrapper,
	"google.protobuf.UInt64Value": wrapper,
	"google.protobuf.Int32Value":  wrapper,
	"google.protobuf.UInt32Value": wrapper,
	"google.protobuf.BoolValue":   wrapper,
	"google.protobuf.StringValue": wrapper,
	"google.protobuf.BytesValue":  wrapper,
}

func object(w *walker, _ protoreflect.MessageDescriptor, path string, tok json.Token) error {
	w.skip(tok)
	if tok != json.Delim('{') {
		return fieldError(path, "must be an object")
	}
	return nil
}

func array(w *walker, _ protoreflect.MessageDescriptor, path string, tok json.Token) error {
	w.skip(tok)
	if tok != json.Delim('[') {
		return fieldError(path, "must be an array")
	}
	return nil
}

func wrapper(w *walker, md protoreflect.MessageDescriptor, path string, tok json.Token) error {
	if d, ok := tok.(json.Delim); ok {
		w.skip(d)
	}
	return scalar(md.Fields().ByName("value").Kind(), path, tok)
}

// bodyFields maps each message that is the body field of a request to that
// field's JSON name (BillingProfile → billingProfile), so that a path in a
// decode error reads from the request, as the services' own errors do. A
// message that two requests name differently gets no prefix.
var bodyFields = sync.OnceValue(func() map[protoreflect.FullName]string {
	out := map[protoreflect.FullName]string{}
	ambiguous := map[protoreflect.FullName]bool{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "selfserve.") {
			return true
		}
		for i := range fd.Services().Len() {
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				fields := methods.Get(j).Input().Fields()
				for k := range fields.Len() {
					f := fields.Get(k)
					if f.Message() == nil || f.IsList() || f.IsMap() {
						continue
					}
					name := f.Message().FullName()
					if prev, ok := out[name]; ok && prev != f.JSONName() {
						ambiguous[name] = true
					}
					out[name] = f.JSONName()
				}
			}
		}
		return true
	})
	for name := range ambiguous {
		delete(out, name)
	}
	return out
})

// queryParser is the runtime's query parser, except that a value that does
// not fit its field is an INVALID_FIELD naming the parameter as written,
// with an enum's values, not the runtime's text.
type queryParser struct{ runtime.DefaultQueryParser }

func (p *queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first bad parameter is the same on every call
	for _, k := range keys {
		if err := p.DefaultQueryParser.Parse(msg, url.Values{k: values[k]}, filter); err != nil {
			return bodyError{queryError(msg.ProtoReflect().Descriptor(), k, values[k])}
		}
	}
	return nil
}

// queryError says why the values of query parameter key do not fit msg.
func queryError(md protoreflect.MessageDescriptor, key string, values []string) *errs.Error {
	var fd protoreflect.FieldDescriptor
	for _, part := range strings.Split(strings.SplitN(key, "[", 2)[0], ".") {
		if md == nil {
			fd = nil
			break
		}
		if fd = md.Fields().ByJSONName(part); fd == nil {
			fd = md.Fields().ByTextName(part)
		}
		if fd == nil {
			break
		}
		md = fd.Message()
	}
	value := ""
	if len(values) > 0 {
		value = values[0]
	}
	switch {
	case fd == nil:
		return errs.Field(key, "the query parameter %s cannot take %q", key, value)
	case !fd.IsList() && len(values) > 1:
		return errs.Field(key, "the query parameter %s is given %d times; it takes one value", key, len(values))
	case fd.Kind() == protoreflect.EnumKind:
		allowed := enumNames(fd.Enum())
		return errs.Field(key, "%s must be one of %s, not %q", key, strings.Join(allowed, ", "), value).
			With("allowed", strings.Join(allowed, ","))
	case fd.Message() != nil:
		if check, ok := wellKnown[fd.Message().FullName()]; ok {
			if err := check(&walker{}, fd.Message(), key, value); err != nil {
				return err.(*errs.Error)
			}
		}
		return errs.Field(key, "the query parameter %s cannot take %q", key, value)
	case fd.Kind() == protoreflect.BoolKind:
		return errs.Field(key, "%s must be true or false, not %q", key, value)
	}
	if err := scalar(fd.Kind(), key, json.Number(value)); err != nil {
		return err.(*errs.Error)
	}
	return errs.Field(key, "the query parameter %s cannot take %q", key, value)
}

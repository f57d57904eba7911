package config

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// VariableError is the problem of one environment variable, in plain words: Problem never
// repeats the name and never carries a Go parser's text.
type VariableError struct {
	// Name is the variable.
	Name string
	// Problem says what is wrong with its value ("\"abc\" is not a whole number").
	Problem string
}

func (e *VariableError) Error() string { return e.Name + ": " + e.Problem }

// Errors are the problems of a configuration, at most one per variable, in the order the
// variables are declared. errors.As finds a variable's *VariableError in it.
type Errors []*VariableError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap gives each variable's error to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// asErrors reports whether err is an Errors, and puts it in *errs.
func asErrors(err error, errs *Errors) bool { return errors.As(err, errs) }

// has reports whether name already has a problem.
func (es Errors) has(name string) bool {
	for _, e := range es {
		if e.Name == name {
			return true
		}
	}
	return false
}

// Process reads the go-envconfig struct that spec points to from l, or from the process
// environment when l is nil. Every variable is read, whatever the others hold. Each value
// that does not parse, and each required one that is missing, is reported by its name in the
// returned Errors. A field that already holds a value keeps it unless its tag says
// `overwrite`, as in go-envconfig. Process does not validate.
func Process(ctx context.Context, l envconfig.Lookuper, spec any) error {
	if l == nil {
		l = envconfig.OsLookuper()
	}
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Process needs a pointer to a struct, got %T", spec)
	}
	var errs Errors
	if err := processStruct(l, v.Elem(), &errs); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// processStruct reads the fields of the struct v, descending into nested structs without a
// tag of their own.
func processStruct(l envconfig.Lookuper, v reflect.Value, errs *Errors) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("env")
		if tag == "" {
			if fv.Kind() == reflect.Struct && !isLeaf(fv) {
				if err := processStruct(l, fv, errs); err != nil {
					return err
				}
			}
			continue
		}
		name, opts := parseTag(tag)
		if !fv.IsZero() && !opts.overwrite {
			continue
		}
		raw, ok := l.Lookup(name)
		fromDefault := false
		if !ok || raw == "" {
			if opts.required {
				errs.add(name, "is required and not set")
				continue
			}
			if !opts.hasDefault {
				continue
			}
			raw, fromDefault = opts.def, true
		}
		if problem := setValue(fv, raw, opts.delimiter); problem != "" {
			if fromDefault {
				return fmt.Errorf("config: %s: default %q: %s", name, raw, problem) // the program's mistake, not the user's
			}
			errs.add(name, problem)
		}
	}
	return nil
}

func (es *Errors) add(name, problem string) {
	*es = append(*es, &VariableError{Name: name, Problem: problem})
}

type tagOptions struct {
	required, overwrite, hasDefault bool
	def, delimiter                  string
}

// parseTag splits go-envconfig's tag: `NAME, required, default=VALUE, overwrite, delimiter=;`.
// The default is last when it holds commas.
func parseTag(tag string) (string, tagOptions) {
	name, rest, _ := strings.Cut(tag, ",")
	o := tagOptions{delimiter: ","}
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		switch {
		case part == "required":
			o.required = true
		case part == "overwrite":
			o.overwrite = true
		case strings.HasPrefix(part, "default="):
			o.hasDefault, o.def = true, strings.TrimPrefix(part, "default=")
			if rest != "" {
				o.def += "," + rest // a default keeps its commas
				rest = ""
			}
		case strings.HasPrefix(part, "delimiter="):
			o.delimiter = strings.TrimPrefix(part, "delimiter=")
		}
	}
	return strings.TrimSpace(name), o
}

// isLeaf reports whether v is set from one value rather than descended into.
func isLeaf(v reflect.Value) bool {
	_, ok := v.Addr().Interface().(encoding.TextUnmarshaler)
	return ok
}

// setValue parses raw into v and returns the problem in plain words, "" when it parsed.
func setValue(v reflect.Value, raw, delimiter string) string {
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
			if err := u.UnmarshalText([]byte(raw)); err != nil {
				return fmt.Sprintf("%q is not valid: %v", raw, err)
			}
			return ""
		}
	}
	if v.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Sprintf("%q is not a duration (a number with a unit: 30s, 5m, 1h30m)", raw)
		}
		v.SetInt(int64(d))
		return ""
	}
	s := strings.TrimSpace(raw)
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Sprintf("%q is not true or false", raw)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return numberProblem(raw, err, "a whole number")
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return numberProblem(raw, err, "a whole number of zero or more")
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return numberProblem(raw, err, "a number")
		}
		v.SetFloat(n)
	case reflect.Slice:
		parts := strings.Split(raw, delimiter)
		out := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		for i, p := range parts {
			if problem := setValue(out.Index(i), strings.TrimSpace(p), delimiter); problem != "" {
				return fmt.Sprintf("item %d: %s", i+1, problem)
			}
		}
		v.Set(out)
	default:
		return fmt.Sprintf("cannot be read into a field of type %s", v.Type())
	}
	return ""
}

// numberProblem words a strconv error: out of range, or not a number at all.
func numberProblem(raw string, err error, what string) string {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Sprintf("%q is too large", raw)
	}
	return fmt.Sprintf("%q is not %s", raw, what)
}

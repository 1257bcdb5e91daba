package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// VariableMetadata is Nomad's variable metadata: what GET /v1/vars
// lists and what a check-and-set conflict (409) answers with.
type VariableMetadata struct {
	Namespace   string        `json:"Namespace"`
	Path        string        `json:"Path"`
	CreateIndex uint64        `json:"CreateIndex"`
	ModifyIndex uint64        `json:"ModifyIndex"`
	CreateTime  int64         `json:"CreateTime"`
	ModifyTime  int64         `json:"ModifyTime"`
	Lock        *VariableLock `json:"Lock,omitempty"`
}

// VariableLock is Nomad's lock over a variable; TTL and LockDelay are
// durations such as "15s".
type VariableLock struct {
	ID        string `json:"ID,omitempty"`
	TTL       string `json:"TTL,omitempty"`
	LockDelay string `json:"LockDelay,omitempty"`
}

// Variable is Nomad's variable: the body of PUT /v1/var/{path} and the
// answer of GET.
type Variable struct {
	Namespace   string            `json:"Namespace,omitempty"`
	Path        string            `json:"Path,omitempty"`
	CreateIndex uint64            `json:"CreateIndex,omitempty"`
	ModifyIndex uint64            `json:"ModifyIndex,omitempty"`
	CreateTime  int64             `json:"CreateTime,omitempty"`
	ModifyTime  int64             `json:"ModifyTime,omitempty"`
	Items       map[string]string `json:"Items"`
	Lock        *VariableLock     `json:"Lock,omitempty"`
}

// Metadata returns v without its items.
func (v *Variable) Metadata() VariableMetadata {
	return VariableMetadata{Namespace: v.Namespace, Path: v.Path, CreateIndex: v.CreateIndex, ModifyIndex: v.ModifyIndex,
		CreateTime: v.CreateTime, ModifyTime: v.ModifyTime, Lock: v.Lock}
}

// RootKeyMeta is one root key as GET /v1/operator/keyring/keys lists it
// (never its material).
type RootKeyMeta struct {
	KeyID       string `json:"KeyID"`
	State       string `json:"State"`
	CreateTime  int64  `json:"CreateTime"`
	CreateIndex uint64 `json:"CreateIndex"`
	ModifyIndex uint64 `json:"ModifyIndex"`
}

// KeyringRotateResponse is PUT /v1/operator/keyring/rotate.
type KeyringRotateResponse struct {
	Key RootKeyMeta `json:"Key"`
}

// ErrVariableConflict is returned (wrapped in a *VariableConflictError)
// when a check-and-set or a lock refused a write.
var ErrVariableConflict = errors.New("variable check-and-set conflict")

// VariableConflictError carries the current variable's metadata of a
// 409 answer (Current.ModifyIndex is the index to retry with).
type VariableConflictError struct {
	Current VariableMetadata
}

func (e *VariableConflictError) Error() string {
	if e.Current.ModifyIndex == 0 {
		return "check-and-set conflict: the variable does not exist (or is locked)"
	}
	return "check-and-set conflict: the variable is at modify index " + strconv.FormatUint(e.Current.ModifyIndex, 10)
}

func (e *VariableConflictError) Unwrap() error { return ErrVariableConflict }

// Variables is the /v1/var and /v1/vars endpoints.
type Variables struct{ c *Client }

// Variables returns the variable endpoints.
func (c *Client) Variables() *Variables { return &Variables{c} }

func varPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/v1/var/" + strings.Join(segs, "/")
}

func nsParams(ns string) url.Values {
	v := url.Values{}
	if ns != "" {
		v.Set("namespace", ns)
	}
	return v
}

// List returns the metadata of the variables under prefix in namespace
// ns ("*" for every namespace).
func (v *Variables) List(ctx context.Context, ns, prefix string, q *QueryOptions) ([]*VariableMetadata, *QueryMeta, error) {
	if q == nil {
		q = &QueryOptions{}
	}
	qq := *q
	qq.Prefix = prefix
	qq.Params = map[string]string{"namespace": ns}
	for k, val := range q.Params {
		qq.Params[k] = val
	}
	var out []*VariableMetadata
	meta, err := v.c.query(ctx, "/v1/vars", &qq, &out)
	return out, meta, err
}

// Get returns one variable with its items.
func (v *Variables) Get(ctx context.Context, ns, path string, q *QueryOptions) (*Variable, *QueryMeta, error) {
	if q == nil {
		q = &QueryOptions{}
	}
	qq := *q
	qq.Params = map[string]string{"namespace": ns}
	var out Variable
	meta, err := v.c.query(ctx, varPath(path), &qq, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Put writes a variable. cas, when not nil, is check-and-set: 0 means
// the variable must not exist. A conflict is a *VariableConflictError.
func (v *Variables) Put(ctx context.Context, vr *Variable, cas *uint64) (*Variable, error) {
	params := nsParams(vr.Namespace)
	if cas != nil {
		params.Set("cas", strconv.FormatUint(*cas, 10))
	}
	return v.put(ctx, vr, params)
}

func (v *Variables) put(ctx context.Context, vr *Variable, params url.Values) (*Variable, error) {
	var out Variable
	_, err := v.c.do(ctx, http.MethodPut, varPath(vr.Path), params, vr, &out)
	return &out, conflictErr(err, &out)
}

// Delete deletes a variable; cas as Put.
func (v *Variables) Delete(ctx context.Context, ns, path string, cas *uint64) error {
	params := nsParams(ns)
	if cas != nil {
		params.Set("cas", strconv.FormatUint(*cas, 10))
	}
	// 204 on success; a 409's body is the current metadata, which
	// decodeError keeps as the message.
	_, err := v.c.do(ctx, http.MethodDelete, varPath(path), params, nil, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusConflict {
		var out Variable
		_ = json.Unmarshal([]byte(se.Message), &out)
		return &VariableConflictError{Current: out.Metadata()}
	}
	return err
}

// AcquireLock locks a variable (creating it if needed); the answer's
// Lock.ID is the holder's secret for writes and the release.
func (v *Variables) AcquireLock(ctx context.Context, vr *Variable) (*Variable, error) {
	params := nsParams(vr.Namespace)
	params.Set("lock-acquire", "")
	return v.put(ctx, vr, params)
}

// RenewLock extends the lock vr.Lock.ID holds by its TTL.
func (v *Variables) RenewLock(ctx context.Context, vr *Variable) (*Variable, error) {
	params := nsParams(vr.Namespace)
	params.Set("lock-renew", "")
	return v.put(ctx, vr, params)
}

// ReleaseLock releases the lock vr.Lock.ID holds.
func (v *Variables) ReleaseLock(ctx context.Context, vr *Variable) (*Variable, error) {
	params := nsParams(vr.Namespace)
	params.Set("lock-release", "")
	return v.put(ctx, vr, params)
}

func conflictErr(err error, out *Variable) error {
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusConflict {
		return &VariableConflictError{Current: out.Metadata()}
	}
	return err
}

// KeyringKeys lists the root keys that encrypt variables.
func (o *Operator) KeyringKeys(ctx context.Context) ([]*RootKeyMeta, error) {
	var out []*RootKeyMeta
	_, err := o.c.query(ctx, "/v1/operator/keyring/keys", nil, &out)
	return out, err
}

// KeyringRotate makes a new active root key; full re-encrypts every
// variable with it in the background.
func (o *Operator) KeyringRotate(ctx context.Context, full bool) (*KeyringRotateResponse, error) {
	params := url.Values{}
	if full {
		params.Set("full", "true")
	}
	var out KeyringRotateResponse
	if err := o.c.write(ctx, http.MethodPut, "/v1/operator/keyring/rotate", params, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

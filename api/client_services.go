package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/droverhq/drover/cluster"
)

// ServiceRegistrationListStub is one namespace of GET /v1/services, in
// Nomad's list shape: [{namespace, services: [{service_name, tags}]}].
type ServiceRegistrationListStub struct {
	Namespace string                     `json:"namespace"`
	Services  []*ServiceRegistrationStub `json:"services"`
}

// ServiceRegistrationStub names one service and the union of its
// instances' tags.
type ServiceRegistrationStub struct {
	ServiceName string   `json:"service_name"`
	Tags        []string `json:"tags"`
}

// Services is the native service catalog's endpoints.
type Services struct{ c *Client }

// Services returns the service catalog endpoints.
func (c *Client) Services() *Services { return &Services{c} }

// List returns the services of q.Params["namespace"] ("*" for every
// namespace the token may read; default "default").
func (s *Services) List(ctx context.Context, q *QueryOptions) ([]*ServiceRegistrationListStub, *QueryMeta, error) {
	var out []*ServiceRegistrationListStub
	meta, err := s.c.query(ctx, "/v1/services", q, &out)
	return out, meta, err
}

// Get returns the instances of a service: only the healthy ones unless
// q.Params["all"] = "true"; q.Params["choose"] = "<n>|<key>" picks n of
// them by rendezvous hashing on key.
func (s *Services) Get(ctx context.Context, name string, q *QueryOptions) ([]*cluster.ServiceRegistration, *QueryMeta, error) {
	var out []*cluster.ServiceRegistration
	meta, err := s.c.query(ctx, "/v1/service/"+esc(name), q, &out)
	return out, meta, err
}

// Delete removes one instance. An instance whose allocation still runs
// comes back with that allocation's next update.
func (s *Services) Delete(ctx context.Context, namespace, name, id string) (*WriteResponse, error) {
	var params url.Values
	if namespace != "" {
		params = url.Values{"namespace": {namespace}}
	}
	var out WriteResponse
	if err := s.c.write(ctx, http.MethodDelete, "/v1/service/"+esc(name)+"/"+esc(id), params, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

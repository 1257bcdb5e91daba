package agent

import (
	"errors"
	"net/http"
	"sync"

	"github.com/droverhq/drover/api"
)

// serverPool is the servers the agent talks to: one at a time, moving to
// the next when a request fails in a way another server might not
// (unreachable, 5xx). Any server forwards to the leader, so which one
// answers does not matter.
type serverPool struct {
	mu      sync.Mutex
	clients []*api.Client
	cur     int
}

// newServerPool makes a client per server. Each sends the node's secret,
// which the node's own calls (registration, heartbeats, allocation
// updates) need.
func newServerPool(addrs []string, token, nodeSecret string) (*serverPool, error) {
	p := &serverPool{}
	for _, a := range addrs {
		c, err := api.NewClient(api.Config{Address: a, Token: token})
		if err != nil {
			return nil, err
		}
		p.clients = append(p.clients, c.WithNodeSecret(nodeSecret))
	}
	return p, nil
}

func (p *serverPool) client() *api.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clients[p.cur]
}

// failed notes that c failed with err and moves on when another server
// might do better.
func (p *serverPool) failed(c *api.Client, err error) {
	var se *api.StatusError
	if errors.As(err, &se) && se.Code < http.StatusInternalServerError {
		return // the request's fault: every server says the same
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clients[p.cur] == c {
		p.cur = (p.cur + 1) % len(p.clients)
	}
}

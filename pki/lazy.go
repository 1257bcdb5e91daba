package pki

import (
	"crypto/tls"
	"errors"
	"sync"
)

// LazyHTTPSServerConfig is HTTPSServerConfig for a listener opened before
// its owner has a certificate (a server or an agent still joining): each
// handshake reads the current identity from load, and the configuration
// is rebuilt only when the identity changed (a join, a renewal).
func LazyHTTPSServerConfig(load func() *Identity) *tls.Config {
	var mu sync.Mutex
	var last *Identity
	var cfg *tls.Config
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			id := load()
			if id == nil {
				return nil, errors.New("drover: no certificate yet (still joining the cluster)")
			}
			mu.Lock()
			defer mu.Unlock()
			if id != last {
				last, cfg = id, NewReloadable(id).HTTPSServerConfig()
			}
			return cfg, nil
		},
	}
}

package drivers

import (
	"fmt"
	"slices"
	"sync"
)

// Registry maps driver names, and aliases such as raw_exec, to drivers.
// The agent builds one at startup; `drover validate` builds one to reach
// the drivers' schemas. Safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	drivers map[string]Driver
	aliases map[string]string
}

// NewRegistry returns a registry holding ds. raw_exec is no alias of exec
// any more: it is a driver of its own (package rawexec), off by default.
func NewRegistry(ds ...Driver) (*Registry, error) {
	r := &Registry{
		drivers: map[string]Driver{},
		aliases: map[string]string{},
	}
	for _, d := range ds {
		if err := r.Register(d); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds d under d.Name(). A name already taken, by a driver or an
// alias, is an error.
func (r *Registry) Register(d Driver) error {
	name := d.Name()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.drivers[name]; ok {
		return fmt.Errorf("driver %q is already registered", name)
	}
	if target, ok := r.aliases[name]; ok {
		return fmt.Errorf("driver name %q is an alias of %q", name, target)
	}
	r.drivers[name] = d
	return nil
}

// Lookup returns the driver for name, following an alias.
func (r *Registry) Lookup(name string) (Driver, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if target, ok := r.aliases[name]; ok {
		name = target
	}
	d, ok := r.drivers[name]
	return d, ok
}

// Names returns the registered driver names and the aliases that resolve
// to one of them, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var names []string
	for n := range r.drivers {
		names = append(names, n)
	}
	for a, target := range r.aliases {
		if _, ok := r.drivers[target]; ok {
			names = append(names, a)
		}
	}
	slices.Sort(names)
	return names
}

// ValidateConfig checks a task's config {} block against the schema of the
// driver it names. An unregistered driver is one error at path "driver".
func (r *Registry) ValidateConfig(driver string, cfg map[string]any) []SchemaError {
	d, ok := r.Lookup(driver)
	if !ok {
		return []SchemaError{{Path: "driver", Msg: fmt.Sprintf("%q is not available on this node", driver)}}
	}
	return d.ConfigSpec().ValidateDriver(d.Name(), cfg)
}

package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
)

// progressEvery spaces pull progress events: enough to show a pull is
// alive, few enough not to flood the task's event list.
const progressEvery = 5 * time.Second

// ensureImage makes spec.Image present: a local image is used as is (no
// registry round trip, which matters on nodes without one), an absent one
// or force_pull pulls it, reporting progress as task events.
func (d *Driver) ensureImage(ctx context.Context, taskID string, spec *containerSpec) error {
	if !spec.ForcePull {
		_, err := d.api.ImageInspect(ctx, spec.Image)
		if err == nil {
			return nil
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("docker: inspect image %s: %w", spec.Image, err)
		}
	}
	err := d.pull(ctx, taskID, spec)
	if err == nil {
		return nil
	}
	if spec.ForcePull {
		return fmt.Errorf("docker: force_pull of image %s failed: %w", spec.Image, err)
	}
	return fmt.Errorf("docker: image %s not found locally and pulling it failed: %w", spec.Image, err)
}

func (d *Driver) pull(ctx context.Context, taskID string, spec *containerSpec) error {
	timeout := d.cfg.PullTimeout
	if spec.PullTimeout > 0 {
		timeout = spec.PullTimeout // image_pull_timeout, at most maxPullTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	auth, err := pullAuth(spec, d.registryAuth, func(err error) {
		d.emit(taskID, "Registry credentials unavailable (%v); pulling without them (auth_soft_fail)", err)
	})
	if err != nil {
		return err
	}
	start := time.Now()
	d.emit(taskID, "Pulling image %s", spec.Image)
	resp, err := d.api.ImagePull(ctx, spec.Image, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return scrub(err, spec.Auth)
	}
	// Layers report bytes as they go; the event sums them so one line
	// says how far the whole pull is.
	type layer struct{ cur, total int64 }
	layers := map[string]layer{}
	last := time.Now()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return scrub(err, spec.Auth)
		}
		if msg.Error != nil {
			return scrub(errors.New(msg.Error.Message), spec.Auth)
		}
		if msg.ID != "" && msg.Progress != nil && msg.Progress.Total > 0 {
			layers[msg.ID] = layer{msg.Progress.Current, msg.Progress.Total}
		}
		if time.Since(last) >= progressEvery && len(layers) > 0 {
			var cur, total int64
			for _, l := range layers {
				cur, total = cur+l.cur, total+l.total
			}
			d.emit(taskID, "Pulling image %s: %d of %d MB in %d layers", spec.Image, cur>>20, total>>20, len(layers))
			last = time.Now()
		}
	}
	d.emit(taskID, "Pulled image %s in %s", spec.Image, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// pullAuth is the credentials of a pull: what lookup finds, or, when it
// fails and the task set auth_soft_fail, none (Nomad's "continue without
// auth": a public image still pulls), after telling softFail why.
func pullAuth(spec *containerSpec, lookup func(*containerSpec) (string, error), softFail func(error)) (string, error) {
	auth, err := lookup(spec)
	if err == nil {
		return auth, nil
	}
	if !spec.AuthSoftFail {
		return "", err
	}
	softFail(scrub(err, spec.Auth))
	return "", nil
}

// registryAuth encodes the task's auth block, else the node's docker
// config entry for the image's registry, else nothing (anonymous pull).
func (d *Driver) registryAuth(spec *containerSpec) (string, error) {
	if spec.Auth != nil {
		return authconfig.Encode(*spec.Auth)
	}
	ref, err := reference.ParseNormalizedNamed(spec.Image)
	if err != nil {
		return "", err
	}
	a, err := configAuth(d.dockerConfigPath(), reference.Domain(ref))
	if err != nil || a == nil {
		return "", err
	}
	return authconfig.Encode(*a)
}

func (d *Driver) dockerConfigPath() string {
	if d.cfg.DockerConfigPath != "" {
		return d.cfg.DockerConfigPath
	}
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// configAuth reads the "auths" entry for domain from a docker CLI
// config.json. Credential helpers (credsStore) are not run: an agent
// should not exec whatever a config file names.
func configAuth(path, domain string) (*registry.AuthConfig, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("docker: read registry credentials: %w", err)
	}
	var cf struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			IdentityToken string `json:"identitytoken"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("docker: parse %s: %w", path, err)
	}
	// Docker Hub's entry is keyed by its historical v1 URL.
	keys := []string{domain, "https://" + domain, "https://" + domain + "/v1/", "https://" + domain + "/v2/"}
	if domain == "docker.io" {
		keys = append(keys, "https://index.docker.io/v1/", "index.docker.io")
	}
	for _, k := range keys {
		e, ok := cf.Auths[k]
		if !ok {
			continue
		}
		a := &registry.AuthConfig{ServerAddress: k, IdentityToken: e.IdentityToken}
		if e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("docker: %s: auth for %s is not base64", path, k)
			}
			a.Username, a.Password, _ = strings.Cut(string(raw), ":")
		}
		return a, nil
	}
	return nil, nil
}

// scrub removes a password from an error that may reach a log or a task
// event.
func scrub(err error, a *registry.AuthConfig) error {
	if a == nil || a.Password == "" || !strings.Contains(err.Error(), a.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), a.Password, "<redacted>"))
}

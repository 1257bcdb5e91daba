package gitsource

import (
	"context"
	"sync"

	"github.com/go-git/go-git/v5"
)

// readerPool lends out go-git Repositories, one borrower at a time each.
// They are opened on first need: most commands read few blobs.
type readerPool struct {
	open func() (*git.Repository, error)
	idle chan *git.Repository

	mu     sync.Mutex
	opened int
	max    int
}

func newReaderPool(open func() (*git.Repository, error), size int) *readerPool {
	return &readerPool{open: open, idle: make(chan *git.Repository, size), max: size}
}

// get borrows a reader; put must give it back.
func (p *readerPool) get(ctx context.Context) (*git.Repository, error) {
	select {
	case g := <-p.idle:
		return g, nil
	default:
	}
	p.mu.Lock()
	if p.opened < p.max {
		p.opened++
		p.mu.Unlock()
		g, err := p.open()
		if err != nil {
			p.mu.Lock()
			p.opened--
			p.mu.Unlock()
			return nil, err
		}
		return g, nil
	}
	p.mu.Unlock()
	select {
	case g := <-p.idle:
		return g, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *readerPool) put(g *git.Repository) {
	p.idle <- g
}

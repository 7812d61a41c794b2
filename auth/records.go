package auth

import "context"

// RecordStore is where a Source keeps its login: the file Store, or one
// person's row in the remote mode's database. Lock is the lock every
// refresh holds, across processes (and replicas, where the store is shared
// by them); Load after Lock sees what the last holder saved.
type RecordStore interface {
	// Load returns the stored login; with none it returns an error
	// wrapping ErrNotLoggedIn.
	Load(ctx context.Context) (*Record, error)
	// Save replaces the stored login; the caller holds the lock.
	Save(ctx context.Context, rec *Record) error
	// Lock takes the store's lock, waiting until ctx ends.
	Lock(ctx context.Context) (unlock func(), err error)
	// String names the store in logs.
	String() string
}

// fileRecords is the file Store as a RecordStore.
type fileRecords struct{ *Store }

func (f fileRecords) Load(context.Context) (*Record, error)     { return f.Store.Load() }
func (f fileRecords) Save(_ context.Context, rec *Record) error { return f.Store.Save(rec) }
func (f fileRecords) String() string                            { return f.Path() }

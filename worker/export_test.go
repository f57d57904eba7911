package worker

// OnJoin makes w call f with the flight's key each time a delivery joins a reconcile another
// delivery started: tests wait on it instead of sleeping.
func OnJoin[T any](w *Worker[T], f func(key string)) {
	w.flights.mu.Lock()
	defer w.flights.mu.Unlock()
	w.flights.onJoin = f
}

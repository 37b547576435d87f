package sandbox

// CheckHandler refuses a runtime handler Run would refuse, for callers that
// must reject it before they do anything else (RestorePod).
func (m *Manager) CheckHandler(handler string) error {
	_, err := m.cfg.Handlers.Lookup(handler)
	return err
}

package daemon

// NewRendererTimeout is NewRenderer with another time bound, so that tests
// of the bound need not run a runaway template for seconds.
var NewRendererTimeout = newRenderer

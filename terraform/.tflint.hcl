# Offline lint: only the terraform ruleset bundled with tflint (no provider plugin can be
# downloaded here). "all" enables every rule of it, documentation and typing included.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}

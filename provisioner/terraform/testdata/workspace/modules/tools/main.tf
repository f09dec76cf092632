# A module in the shape of Coder's registry modules: it receives the agent's
# ID and adds an app and a script to that agent.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

variable "agent_id" {
  type = string
}

resource "coder_app" "docs" {
  agent_id     = var.agent_id
  slug         = "docs"
  display_name = "Docs"
  url          = "http://localhost:3000"
  share        = "authenticated"
}

resource "coder_script" "hello" {
  agent_id     = var.agent_id
  display_name = "Hello"
  icon         = "/emojis/1f44b.png"
  script       = "echo hello"
  run_on_start = true
}

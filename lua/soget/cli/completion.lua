-- The completion command: a completion script for bash, zsh or fish, made
-- by lua-argparse from the parser itself (get_bash_complete and its
-- siblings), so it completes whatever commands, options and choices the
-- parser has. make install writes all three where each shell looks.
local exit = require "soget.cli.exit"

local M = {}

M.SHELLS = { "bash", "zsh", "fish" }

-- The completion script of parser for shell ("bash", "zsh" or "fish").
function M.script(parser, shell)
  return parser["get_" .. shell .. "_complete"](parser)
end

-- Adds the completion command to parser; it prints the script and ends the
-- program (exit 0) as soon as it is parsed.
function M.add(parser)
  local command = parser:command("completion")
    :summary("Print a shell completion script (bash, zsh or fish).")
    :description("Print the completion script for SHELL on stdout, made from this "
      .. "program's own commands and options. make install installs all three.")
    :epilog([[
Examples:
   soget completion bash > ~/.local/share/bash-completion/completions/soget
   soget completion zsh > ~/.zfunc/_soget    # with fpath+=(~/.zfunc) in ~/.zshrc
   soget completion fish > ~/.config/fish/completions/soget.fish

Exit codes:
   0    the script printed
   2    usage error
  74    the script could not be written (a full disk)]])
  command:argument("shell"):description("The shell: bash, zsh or fish.")
    :choices(M.SHELLS)
    :action(function(_, _, shell)
      exit.finish(exit.OK, { out = M.script(parser, shell) })
    end)
  return command
end

return M

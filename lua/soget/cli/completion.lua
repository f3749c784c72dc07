-- The completion command: a completion script for bash, zsh or fish, made
-- by lua-argparse from the parser itself (get_bash_complete and its
-- siblings), so it completes whatever commands, options and choices the
-- parser has. make install writes all three where each shell looks.
local exit = require "soget.cli.exit"

local M = {}

M.SHELLS = { "bash", "zsh", "fish" }

-- Words argparse cannot offer by itself, for options whose value is
-- checked by the command rather than by argparse's choices (any case:
-- --customs import), as option -> words (see M.offer).
local offered = setmetatable({}, { __mode = "k" })

-- Has the completion scripts offer words for option (made by
-- parser:option), whose value argparse does not check against them.
function M.offer(option, words)
  offered[option] = words
  return option
end

-- bash's and fish's scripts complete a command's options but not the
-- choices of its argument: the completion command's shells, added here.
local function add_shells(shell, script)
  local words = table.concat(M.SHELLS, " ")
  if shell == "bash" then
    return (script:gsub('\n    esac\n\n    if %[%[ "%$cur" = %-%* %]%]', function(tail)
      return "\n        'completion')\n"
        .. '            COMPREPLY=($(compgen -W "' .. words .. '" -- "$cur"))\n'
        .. "            ;;" .. tail
    end, 1))
  elseif shell == "fish" then
    return script .. "complete -c soget -n '__fish_soget_seen_command completion' -xa '"
      .. words .. "'\n"
  end
  return script   -- (zsh's completes an argument's choices)
end

-- The completion script of parser for shell ("bash", "zsh" or "fish").
function M.script(parser, shell)
  -- argparse writes an option's choices (its _choices) as the words to
  -- complete: the offered words stand there while the script is made
  local set = {}
  for option, words in pairs(offered) do
    set[#set + 1] = option
    option._choices = words
  end
  local ok, script = pcall(parser["get_" .. shell .. "_complete"], parser)
  for _, option in ipairs(set) do option._choices = nil end
  if not ok then error(script, 0) end
  return add_shells(shell, script)
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

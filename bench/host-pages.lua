-- wrk script of bench/host.sh: GET the archive pages named after `--`, in turn.
-- usage: wrk ... -s bench/host-pages.lua URL -- / /v1n1/ /v1n2/
local paths = {}
local next_path = 1

function init(args)
  for i = 1, #args do
    paths[#paths + 1] = args[i]
  end
  if #paths == 0 then
    paths[1] = "/"
  end
end

function request()
  local path = paths[next_path]
  next_path = next_path % #paths + 1
  return wrk.format("GET", path)
end

import json
import time

with open("cosim.json") as f:
    params = json.load(f)["params"]
print("crashy: warming up", flush=True)
time.sleep(params["delay"])
raise RuntimeError("crashy: the reward function divided by zero")

"""Calibrated heads of the manipulation check: written by benchmarks/calibrate_manipulation.py, do not edit.

Each head: P = sigmoid(weights . (evidence - mean) / std + bias); flagged at threshold.
"""

VALIDATED_ON = '102 unmodified views (JPEG q60-95, PNG, H.264 CRF 18-32, 112-160 px portraits) of astronaut, hopper-mirror, astronaut-broad, hopper-sidelit, astronaut-mirror-long-warm and crops of the two shipped photos; faces >= 100 px'

HEADS = {'smoothing_filter': {'weights': [-4.1253, -0.275, 0.7408, 1.2743, -0.8235, -2.9624, -1.6464, -0.0446],
                      'bias': 0.9551,
                      'mean': [0.0747, 0.0455, 0.2593, 0.1701, 0.0414, -0.0402, 0.2037, 5.0848],
                      'std': [0.6128, 0.5677, 0.1585, 0.2395, 0.5253, 0.5634, 0.1553, 0.2358],
                      'threshold': 0.8318,
                      'fitted_on': '229 unmodified or heavy-JPEG vs 393 '
                                   'bilateral/guided/gaussian/blur_global'},
 'splice': {'weights': [-1.274, 0.2417, 0.979, 1.1968, -1.9317, 0.2035, -1.7317, 0.3211],
            'bias': -0.5911,
            'mean': [0.3506, 0.2907, 0.2968, 0.1536, 0.0825, -0.0347, 0.2538, 5.0795],
            'std': [0.4638, 0.4702, 0.147, 0.2284, 0.4977, 0.5364, 0.1772, 0.2301],
            'threshold': 0.9002,
            'fitted_on': '229 unmodified or heavy-JPEG vs 94 splice'}}
